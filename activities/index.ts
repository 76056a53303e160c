/**
 * All activities, each family built by its own factory over the slice of configuration and
 * the store adapters it needs. The worker (worker/deps.ts) is the only caller.
 */
import type { Knex } from 'knex';
import type { BlobStore } from '../stores/blobs';
import type { Auth0Client } from '../stores/auth0';
import type { RecurlyClient } from '../stores/recurly';
import type { Config } from '../config';
import type { FieldCipher } from '../encryption/fields';
import { createStackCheckActivities } from './stack-check';
import { createFreezeActivities } from './deletion/freeze';
import { createRecurlyActivities } from './deletion/recurly';
import { createAuth0Activities } from './deletion/auth0';
import { createMediaActivities } from './deletion/media';
import { createDatabaseActivities } from './deletion/database';
import { createVerifyActivities } from './deletion/verify';
import { createReceiptActivities } from './deletion/receipt';
import { createStateActivities } from './deletion/state';
import { createNotifyActivities } from './deletion/notify';
import { createSweepActivities, type StartDeletion } from './sweep/sweep';
import { createRecheckActivities } from './sweep/recheck';
import { createVerificationActivities } from './front-door/verification';
import { createNoticeActivities } from './front-door/notices';
import { createCorrectionActivities } from './correction';
import { createAccessActivities } from './access';
import type { Mailer } from '../mail/transport';

export interface ActivityDeps {
  config: Pick<Config, 'recurly' | 'blob' | 'deletion' | 'sweep' | 'mail' | 'frontDoor' | 'access'>;
  db: Knex;
  blobs: BlobStore;
  auth0: Auth0Client;
  recurly: RecurlyClient;
  /** Seals the personal data Lethe keeps while a deletion runs (lethe.deletion_subjects). */
  fields: FieldCipher;
  /** Mail to the people whose data it is (mail/transport.ts), connected on first use. */
  mailer: () => Mailer;
  /** How the sweep starts deletions: the intake every channel uses, injected by the worker. */
  startDeletion?: StartDeletion;
}

export const createActivities = (deps: ActivityDeps) => ({
  ...createStackCheckActivities(deps),
  ...createFreezeActivities(deps),
  ...createRecurlyActivities({ db: deps.db, fields: deps.fields, recurly: deps.recurly, refund: deps.config.recurly.refund }),
  ...createAuth0Activities({ db: deps.db, fields: deps.fields, auth0: deps.auth0 }),
  // Long activities bound their own transient retries (see classified()).
  ...createMediaActivities({
    blobs: deps.blobs,
    pageSize: deps.config.blob.pageSize,
    concurrency: deps.config.blob.batchConcurrency,
    attemptBudgetMs: deps.config.deletion.blockPolicy.attemptBudgetMs,
  }),
  ...createDatabaseActivities({ db: deps.db, fields: deps.fields, attemptBudgetMs: deps.config.deletion.blockPolicy.attemptBudgetMs }),
  ...createVerifyActivities(deps),
  ...createReceiptActivities({ db: deps.db, fields: deps.fields, notices: true }),
  ...createStateActivities({ db: deps.db }),
  ...createNotifyActivities({ webhookUrl: deps.config.deletion.webhookUrl, webhookSecret: deps.config.deletion.webhookSecret }),
  ...createSweepActivities({ sweep: deps.config.sweep, db: deps.db, startDeletion: deps.startDeletion, mailer: deps.mailer, publicUrl: deps.config.mail.publicUrl }),
  ...createRecheckActivities({ sweep: deps.config.sweep, db: deps.db, recurly: deps.recurly }),
  ...createVerificationActivities({ db: deps.db, fields: deps.fields, mailer: deps.mailer, config: deps.config }),
  ...createNoticeActivities({ db: deps.db, fields: deps.fields, mailer: deps.mailer, publicUrl: deps.config.mail.publicUrl }),
  ...createCorrectionActivities({ db: deps.db, fields: deps.fields, auth0: deps.auth0, recurly: deps.recurly, mailer: deps.mailer, config: deps.config }),
  // Access requests (docs/access.md): read-only over the same stores, writing to Lethe's own container.
  ...createAccessActivities({ ...deps, publicUrl: deps.config.mail.publicUrl, access: deps.config.access, attemptBudgetMs: deps.config.deletion.blockPolicy.attemptBudgetMs }),
});

export type Activities = ReturnType<typeof createActivities>;
