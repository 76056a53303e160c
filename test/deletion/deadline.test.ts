/**
 * The deadline is a durable timer: with a deadline of seconds and a vendor that stalls, the
 * workflow marks itself near-deadline and then overdue (search attributes, webhook), and still
 * completes the deletion afterwards.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startWorld } from '../support/stack';
import { startPrivateStores, PrivateStores } from '../support/private-stores';
import { armFault } from '../sandboxes/helpers/sandboxAdmin';
import { expectEmpty, storesOf } from '../support/stores';
import { rng, seedAccount } from '../../dev/seed/fixtures';
import { createIntake } from '../../client/intake';
import { progressQuery, LetheDeadlineWarning, LetheOverdue, LetheStatus, type Receipt } from '../../contract';

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
        LETHE_DEADLINE_HOURS: '0.003',
        LETHE_WARNING_HOURS: '0.0015',
        LETHE_WEBHOOK_URL: `http://127.0.0.1:${port}/lethe-deadlines`,
      },
    });
    try {
      const seed = { ...world.deps, recurlySandboxUrl: stores.recurly.url };
      const a = await seedAccount(seed, { media: 5 }, rng(11));
      // Recurly stalls for 13 s on the first account call: longer than the whole deadline.
      await armFault(stores.recurly.url, { mode: 'hang', count: 1, hangMs: 13_000, pathPrefix: '/accounts' });
      const deletions = createIntake({ config: world.config, db: world.deps.db, temporal: world.client });
      const started = await deletions.start({ accountId: a.id, channel: 'phone' });
      const handle = world.client.workflow.getHandle(started.workflowId);

      const receipt: Receipt = await handle.result();
      expect(receipt.overdue).toBe(true);
      expectEmpty(await storesOf(seed, a));

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
