/**
 * The access request's activities (docs/access.md), built over the stores they read and the
 * archive container they write: gather per store, write the archive, mail the links, delete.
 */
import type { Knex } from 'knex';
import type { BlobStore } from '../../stores/blobs';
import type { Auth0Client } from '../../stores/auth0';
import type { RecurlyClient } from '../../stores/recurly';
import type { FieldCipher } from '../../encryption/fields';
import type { Mailer } from '../../mail/transport';
import { createArchiveStore } from '../../stores/archive';
import { createGatherActivities } from './gather';
import { createArchiveActivities } from './archive';
import { createAccessDeliveryActivities } from './deliver';
import { ACCESS_DEFAULTS } from './types';

export interface AccessActivityDeps {
  db: Knex;
  blobs: BlobStore;
  auth0: Auth0Client;
  recurly: RecurlyClient;
  fields: FieldCipher;
  mailer: () => Mailer;
  publicUrl: string;
  access?: { container: string };
  attemptBudgetMs?: number;
}

export const createAccessActivities = (deps: AccessActivityDeps) => {
  const archive = createArchiveStore(deps.blobs, deps.access?.container ?? ACCESS_DEFAULTS.container);
  return {
    ...createGatherActivities({ ...deps, archive }),
    ...createArchiveActivities({ db: deps.db, blobs: deps.blobs, archive, attemptBudgetMs: deps.attemptBudgetMs }),
    ...createAccessDeliveryActivities({ db: deps.db, archive, mailer: deps.mailer, publicUrl: deps.publicUrl }),
  };
};
