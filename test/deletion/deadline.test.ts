/**
 * The deadline is a durable timer: with a deadline of seconds and a vendor that stalls, the
 * workflow marks itself near-deadline and then overdue (search attributes, webhook), and still
 * completes the deletion afterwards.
 *
 * Timings, and why the margins hold (all derived below, and checked before the run):
 * - deadline D = 10.8 s after receipt (LETHE_DEADLINE_HOURS 0.003), warning at D / 2;
 * - Recurly's first account call is held H = D + 2.2 s = 13 s by the sandbox, then answered.
 *   The call starts after receipt, so the deletion cannot finish before receipt + H > D: the
 *   overdue mark is certain however fast or slow the machine, never a race.
 * - The worker's Recurly client abandons a request after T = its configured timeout
 *   (RECURLY_TIMEOUT_MS, 15 s, stores/recurly.ts). The test proves "a slow vendor call holds
 *   the deletion past its deadline", which needs the held call to be answered, not abandoned:
 *   T must exceed H by RESPONSE_MARGIN_MS (the sandbox answers at once after the hold; 2 s
 *   covers a loaded machine). Were T below H, the call would time out and be retried and
 *   the test would prove something else; so a change to the timeout fails the margin check
 *   here, and the sandbox's stats confirm afterwards that no Recurly request was abandoned.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startWorld } from '../support/stack';
import { startPrivateStores, PrivateStores } from '../support/private-stores';
import { armFault, stats } from '../sandboxes/helpers/sandboxAdmin';
import { expectEmpty, storesOf } from '../support/stores';
import { rng, seedAccount } from '../../dev/seed/fixtures';
import { createIntake } from '../../client/intake';
import { RECURLY_TIMEOUT_MS, type RecurlyConfig } from '../../stores/recurly';
import { progressQuery, LetheDeadlineWarning, LetheOverdue, LetheStatus, type Receipt } from '../../contract';

const HOUR_MS = 3_600_000;
const DEADLINE_HOURS = 0.003;
/** How much longer than the deadline the Recurly call is held. */
const HOLD_PAST_DEADLINE_MS = 2_200;
/** What the held call's answer may take, after the hold, to reach the client before its timeout. */
const RESPONSE_MARGIN_MS = 2_000;

describe('deletion deadline', () => {
  let stores: PrivateStores;
  let hook: http.Server;
  const notices: Record<string, unknown>[] = [];

  beforeAll(async () => {
    stores = await startPrivateStores();
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        notices.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    await stores?.close();
    await new Promise((r) => hook?.close(r));
  });

  test('when a deletion cannot finish before its deadline, then it raises the warning and overdue marks, notifies, and still completes', async () => {
    const { port } = hook.address() as AddressInfo;
    const world = await startWorld({
      env: {
        ...stores.env,
        // 10.8 s to the deadline, a warning at 5.4 s.
        LETHE_DEADLINE_HOURS: String(DEADLINE_HOURS),
        LETHE_WARNING_HOURS: String(DEADLINE_HOURS / 2),
        LETHE_WEBHOOK_URL: `http://127.0.0.1:${port}/lethe-deadlines`,
      },
    });
    try {
      const seed = { ...world.deps, recurlySandboxUrl: stores.recurly.url };
      const a = await seedAccount(seed, { media: 5 }, rng(11));
      const deadlineMs = world.config.deletion.deadlineHours * HOUR_MS;
      const hangMs = deadlineMs + HOLD_PAST_DEADLINE_MS;
      // The worker's client is built from config.recurly (worker/deps.ts); no timeout there means the default.
      const clientTimeoutMs = (world.config.recurly as RecurlyConfig).timeoutMs ?? RECURLY_TIMEOUT_MS;
      expect({ deadlineMs, hangMs, warningMs: world.config.deletion.warningHours * HOUR_MS }).toEqual({ deadlineMs: 10_800, hangMs: 13_000, warningMs: 5_400 });
      if (hangMs + RESPONSE_MARGIN_MS > clientTimeoutMs) {
        throw new Error(
          `the Recurly client's timeout (${clientTimeoutMs} ms, RECURLY_TIMEOUT_MS in stores/recurly.ts) must exceed the ${hangMs} ms hold by ${RESPONSE_MARGIN_MS} ms: ` +
            'otherwise the held call times out and is retried, and this test no longer proves that a slow vendor call holds a deletion past its deadline. Rework the timings above.',
        );
      }
      // Recurly stalls on the first account call for longer than the whole deadline.
      await armFault(stores.recurly.url, { mode: 'hang', count: 1, hangMs, pathPrefix: '/accounts' });
      const deletions = createIntake({ config: world.config, db: world.deps.db, temporal: world.client });
      const started = await deletions.start({ accountId: a.id, channel: 'phone' });
      const handle = world.client.workflow.getHandle(started.workflowId);

      const receipt: Receipt = await handle.result();
      expect(receipt.overdue).toBe(true);
      expectEmpty(await storesOf(seed, a));
      // The held call was answered, not abandoned by the client's timeout (status 0: the client
      // closed the connection before an answer).
      const recurly = await stats(stores.recurly.url);
      const abandoned = Object.entries(recurly.statuses).filter(([, byStatus]) => (byStatus['0'] ?? 0) > 0);
      expect(abandoned).toEqual([]);
      expect(recurly.total).toBeGreaterThan(0);

      const progress = await handle.query(progressQuery);
      expect(progress).toMatchObject({ status: 'completed', warning: true, overdue: true });
      const attrs = (await handle.describe()).typedSearchAttributes;
      expect(attrs.get(LetheDeadlineWarning)).toBe(true);
      expect(attrs.get(LetheOverdue)).toBe(true);
      expect(attrs.get(LetheStatus)).toBe('completed');

      const mine = notices.filter((n) => n.requestId === started.requestId);
      expect(mine.map((n) => n.event)).toEqual(['deletion.warning', 'deletion.overdue']);
      for (const n of mine) {
        expect(n).toMatchObject({ accountId: a.id, deadlineAt: started.deadlineAt, workflowId: started.workflowId });
        expect(JSON.stringify(n)).not.toContain(a.email);
      }
    } finally {
      await world.close();
    }
  });
});
