/** Builds the real store adapters from the configuration: the only place that wires them. */
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { createDb } from '../stores/db';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { createBlobStore, isEmulatorConnectionString, type BlobStore } from '../stores/blobs';
import { createAuth0Client } from '../stores/auth0';
import { createRecurlyClient } from '../stores/recurly';
import type { ActivityDeps } from '../activities';
import { createTemporalClient } from '../client/temporal';
import { createIntake } from '../client/intake';
import { getFieldCipher } from '../encryption';
import { requireKeyRing } from '../config';
import { createMailer, type Mailer } from '../mail/transport';

export interface WorkerDeps extends ActivityDeps {
  /** A Temporal client with Lethe's data converter, made on first use. */
  temporalClient(): Client;
  close(): Promise<void>;
}

/**
 * The blob store for the configuration: its connection string, or, with AZURE_STORAGE_ACCOUNT_URL,
 * the account URL and Microsoft Entra ID through DefaultAzureCredential (managed identity,
 * workload identity, or a service principal from the environment; learn.microsoft.com/azure/
 * storage/blobs/authorize-access-azure-active-directory). `credential` is for tests, which
 * cannot reach Entra. Only the emulator (the embedded stack's Azurite) may list without versions
 * and soft-deleted blobs.
 */
export function blobStoreFor(blob: Config['blob'], credential: () => TokenCredential = () => new DefaultAzureCredential()): BlobStore {
  if (blob.accountUrl && !blob.connectionString) return createBlobStore({ accountUrl: blob.accountUrl, credential: credential() }, blob.containers);
  return createBlobStore(blob.connectionString, blob.containers, { emulator: blob.embedded || isEmulatorConnectionString(blob.connectionString) });
}

export function buildDeps(config: Config): WorkerDeps {
  const db = createDb(config.database.url);
  // Made on first use: only the sweep's activities (and the Schedule's set-up) need it.
  let temporal: Client | undefined;
  const temporalClient = () => (temporal ??= createTemporalClient(config));
  let intake: ReturnType<typeof createIntake> | undefined;
  let mailer: Mailer | undefined;
  return {
    config,
    db,
    blobs: blobStoreFor(config.blob),
    auth0: createAuth0Client(config.auth0),
    recurly: createRecurlyClient(config.recurly),
    // The payload codec's keys, read on first use (a process that never seals needs none).
    fields: getFieldCipher(() => requireKeyRing(config)),
    // The sweep files its requests through the intake every channel uses; injected here so
    // the activities never import the client side.
    startDeletion: (req) => (intake ??= createIntake({ config, db, temporal: temporalClient() })).startInactivity(req),
    mailer: () => (mailer ??= createMailer(config.mail)),
    temporalClient,
    close: async () => {
      mailer?.close();
      await temporal?.connection.close();
      await db.destroy();
    },
  };
}
