/**
 * A read-only round trip through every store Lethe deletes from. The stack's smoke test and
 * operators (`lethe doctor`) run it to prove the worker reaches them all with its real clients.
 */
import type { Knex } from 'knex';
import type { BlobStore } from '../stores/blobs';
import type { Auth0Client } from '../stores/auth0';
import type { RecurlyClient } from '../stores/recurly';

export interface StackCheckResult {
  postgres: { ok: true; accounts: number };
  blobs: { ok: true; containers: string[] };
  auth0: { ok: true };
  recurly: { ok: true };
}

export const createStackCheckActivities = (deps: { db: Knex; blobs: BlobStore; auth0: Auth0Client; recurly: RecurlyClient }) => ({
  async checkStores(): Promise<StackCheckResult> {
    const [{ n }] = await deps.db('accounts').count<{ n: number }[]>({ n: '*' });
    await deps.blobs.ping();
    // Lookups of ids that cannot exist: they prove auth, routing and error mapping end to end.
    await deps.auth0.getUser('auth0|lethe-stack-check');
    await deps.recurly.getAccount('lethe-stack-check');
    return {
      postgres: { ok: true, accounts: Number(n) },
      blobs: { ok: true, containers: deps.blobs.containers },
      auth0: { ok: true },
      recurly: { ok: true },
    };
  },
});
