/** All activities, each family built by its own factory over the clients it needs. */
import type { Knex } from 'knex';
import type { BlobStore } from '../clients/blobs';
import type { Auth0Client } from '../clients/auth0';
import type { RecurlyClient } from '../clients/recurly';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { createStackCheckActivities } from './stack-check';
import { createFreezeActivities } from './deletion/freeze';
import { createVendorActivities } from './deletion/vendors';
import { createMediaActivities } from './deletion/media';
import { createDatabaseActivities } from './deletion/database';
import { createVerifyActivities } from './deletion/verify';
import { createReceiptActivities } from './deletion/receipt';
import { createNotifyActivities } from './deletion/notify';
import { createSweepActivities } from './sweep/sweep';
import { createRecheckActivities } from './sweep/recheck';

export interface ActivityDeps {
  config: Config;
  db: Knex;
  blobs: BlobStore;
  auth0: Auth0Client;
  recurly: RecurlyClient;
  /** A Temporal client with Lethe's data converter, made on first use: the sweep starts deletions. */
  temporalClient?: () => Client;
}

export const createActivities = (deps: ActivityDeps) => ({
  ...createStackCheckActivities(deps),
  ...createFreezeActivities(deps),
  ...createVendorActivities({ ...deps, refund: deps.config.recurly.refund }),
  ...createMediaActivities({ blobs: deps.blobs, pageSize: deps.config.blob.pageSize, concurrency: deps.config.blob.batchConcurrency }),
  ...createDatabaseActivities(deps),
  ...createVerifyActivities(deps),
  ...createReceiptActivities(deps),
  ...createNotifyActivities({ webhookUrl: deps.config.deletion.webhookUrl }),
  ...createSweepActivities(deps),
  ...createRecheckActivities(deps),
});

export type Activities = ReturnType<typeof createActivities>;
