/** Builds the real clients from the configuration: the only place that wires them. */
import type { Config } from '../config';
import { createDb } from '../clients/db';
import { createBlobStore } from '../clients/blobs';
import { createAuth0Client } from '../clients/auth0';
import { createRecurlyClient } from '../clients/recurly';
import type { ActivityDeps } from '../activities';
import type { Client } from '@temporalio/client';
import { createTemporalClient } from '../client/temporal';

export function buildDeps(config: Config): ActivityDeps & { close(): Promise<void> } {
  const db = createDb(config.database.url);
  // Made on first use: only the sweep's activities start workflows from inside the worker.
  let temporal: Client | undefined;
  return {
    config,
    db,
    blobs: createBlobStore(config.blob.connectionString, config.blob.containers),
    auth0: createAuth0Client(config.auth0),
    recurly: createRecurlyClient(config.recurly),
    temporalClient: () => (temporal ??= createTemporalClient(config)),
    close: async () => {
      await temporal?.connection.close();
      await db.destroy();
    },
  };
}
