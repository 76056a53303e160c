/** Builds the real store adapters from the configuration: the only place that wires them. */
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { createDb } from '../stores/db';
import { createBlobStore, isEmulatorConnectionString } from '../stores/blobs';
import { createAuth0Client } from '../stores/auth0';
import { createRecurlyClient } from '../stores/recurly';
import type { ActivityDeps } from '../activities';
import { createTemporalClient } from '../client/temporal';
import { createIntake } from '../client/intake';
import { getFieldCipher } from '../encryption';
import { requireKeyRing } from '../config';

export interface WorkerDeps extends ActivityDeps {
  /** A Temporal client with Lethe's data converter, made on first use. */
  temporalClient(): Client;
  close(): Promise<void>;
}

export function buildDeps(config: Config): WorkerDeps {
  const db = createDb(config.database.url);
  // Made on first use: only the sweep's activities (and the Schedule's set-up) need it.
  let temporal: Client | undefined;
  const temporalClient = () => (temporal ??= createTemporalClient(config));
  let intake: ReturnType<typeof createIntake> | undefined;
  return {
    config,
    db,
    // Only the emulator (the embedded stack's Azurite) may list without versions and soft-deleted blobs.
    blobs: createBlobStore(config.blob.connectionString, config.blob.containers, { emulator: config.blob.embedded || isEmulatorConnectionString(config.blob.connectionString) }),
    auth0: createAuth0Client(config.auth0),
    recurly: createRecurlyClient(config.recurly),
    // The payload codec's keys, read on first use (a process that never seals needs none).
    fields: getFieldCipher(() => requireKeyRing(config)),
    // The sweep files its requests through the intake every channel uses; injected here so
    // the activities never import the client side.
    startDeletion: (req) => (intake ??= createIntake({ config, db, temporal: temporalClient() })).startInactivity(req),
    temporalClient,
    close: async () => {
      await temporal?.connection.close();
      await db.destroy();
    },
  };
}
