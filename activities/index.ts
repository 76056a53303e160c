/** All activities, each family built by its own factory over the clients it needs. */
import type { Knex } from 'knex';
import type { BlobStore } from '../clients/blobs';
import type { Auth0Client } from '../clients/auth0';
import type { RecurlyClient } from '../clients/recurly';
import type { Config } from '../config';
import { createStackCheckActivities } from './stack-check';

export interface ActivityDeps {
  config: Config;
  db: Knex;
  blobs: BlobStore;
  auth0: Auth0Client;
  recurly: RecurlyClient;
}

export const createActivities = (deps: ActivityDeps) => ({
  ...createStackCheckActivities(deps),
});

export type Activities = ReturnType<typeof createActivities>;
