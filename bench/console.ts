/**
 * The privacy console at scale (issue 33, done-when 6): with N open requests (10,000 by default)
 * and a history of completed ones planted in lethe.deletion_requests, how long the API takes to
 * render the requests page (bucket counts and the first page of the table) and the overview
 * (its series and counts), measured server-side end to end over HTTP, against the plain JSON
 * list call (GET /v1/deletion-requests, the first page) as the baseline in the same run.
 * Targets: the requests page under 300 ms, the overview under 1 s. No page calls Temporal.
 *
 *   node --import tsx bench/console.ts [--open 10000] [--completed 20000] [--runs 30]
 */
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { percentile, startBenchStack } from './support';

const HOUR = 3_600_000;
const CHANNELS = ['api', 'email', 'phone', 'support', 'in_app', 'inactivity'];

export async function runConsoleBench(opts: { open: number; completed: number; runs: number }): Promise<string> {
  const { stack, stateDir, log, deps, api } = await startBenchStack('console', { env: { LETHE_SWEEP_SCHEDULE: 'off', LETHE_API_RATE_LIMIT: '100000' } });
  const db = deps.db;
  try {
    // Open requests spread over the 72 hours (some past due, some blocked), and completed ones over 12 weeks.
    const now = Date.now();
    const rows: Record<string, unknown>[] = [];
    for (let i = 0; i < opts.open; i++) {
      const received = new Date(now - Math.random() * 80 * HOUR);
      rows.push({
        request_id: randomUUID(),
        account_id: randomUUID(),
        channel: CHANNELS[i % CHANNELS.length],
        received_at: received,
        deadline_at: new Date(received.getTime() + 72 * HOUR),
        status: i % 10 === 0 ? 'blocked' : i % 3 === 0 ? 'pending' : 'running',
        created_at: received,
      });
    }
    for (let i = 0; i < opts.completed; i++) {
      const received = new Date(now - Math.random() * 84 * 24 * HOUR);
      rows.push({
        request_id: randomUUID(),
        account_id: randomUUID(),
        channel: CHANNELS[i % CHANNELS.length],
        received_at: received,
        deadline_at: new Date(received.getTime() + 72 * HOUR),
        status: 'completed',
        completed_at: new Date(received.getTime() + Math.random() * 80 * HOUR),
        created_at: received,
      });
    }
    for (let i = 0; i < rows.length; i += 2000) await db('lethe.deletion_requests').insert(rows.slice(i, i + 2000));
    // Each request's four stores as its workflow records them (migration 012): a blocked one is
    // blocked at Recurly (since its receipt), an open one's stores part done, a completed one's verified.
    const STORES = ['media', 'auth0', 'recurly', 'database'];
    const states: Record<string, unknown>[] = [];
    const blocks: Record<string, unknown>[] = [];
    for (const r of rows) {
      for (const [k, store] of STORES.entries()) {
        const blocked = r.status === 'blocked' && store === 'recurly';
        const state = r.status === 'completed' ? 'verified' : blocked ? 'blocked' : r.status === 'pending' ? 'pending' : k % 2 ? 'running' : 'verified';
        states.push({ request_id: r.request_id, store, state, attempts: 1, reason_code: blocked ? 'Precondition' : null, since: blocked ? r.received_at : null, seq: 1 });
        if (blocked) blocks.push({ request_id: r.request_id, store, since: r.received_at, reason_code: 'Precondition' });
      }
    }
    for (let i = 0; i < states.length; i += 5000) await db('lethe.deletion_store_states').insert(states.slice(i, i + 5000));
    for (let i = 0; i < blocks.length; i += 5000) await db('lethe.deletion_store_blocks').insert(blocks.slice(i, i + 5000));
    await db.raw('analyze lethe.deletion_requests');
    await db.raw('analyze lethe.deletion_store_states');
    await db.raw('analyze lethe.deletion_store_blocks');
    log(`planted ${opts.open} open and ${opts.completed} completed requests`);

    // One session, as a browser holds it.
    const signIn = await fetch(`${api}/console/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent(stack.apiToken)}`,
      redirect: 'manual',
    });
    const cookie = /lethe_console=[^;]+/.exec(signIn.headers.get('set-cookie') ?? '')?.[0];
    if (signIn.status !== 303 || !cookie) throw new Error(`sign-in: ${signIn.status}`);

    const time = async (what: string, path: string, headers: Record<string, string>): Promise<number[]> => {
      const ms: number[] = [];
      for (let i = 0; i < opts.runs + 3; i++) {
        const t = performance.now();
        const res = await fetch(`${api}${path}`, { headers, redirect: 'manual' });
        await res.text();
        if (res.status !== 200) throw new Error(`${what}: ${res.status}`);
        if (i >= 3) ms.push(performance.now() - t); // the first three warm the caches
      }
      return ms.sort((a, b) => a - b);
    };
    const results = [
      { what: 'JSON list, first page (baseline)', path: '/v1/deletion-requests?limit=50', ms: await time('baseline', '/v1/deletion-requests?limit=50', { authorization: `Bearer ${stack.apiToken}` }) },
      { what: 'requests page (/console)', path: '/console', ms: await time('requests', '/console', { cookie }), target: 300 },
      { what: 'requests page, due-soon bucket', path: '/console?bucket=due_soon', ms: await time('bucket', '/console?bucket=due_soon', { cookie }), target: 300 },
      {
        what: 'requests page, blocked at Recurly',
        path: '/console?store=recurly&store_state=blocked',
        ms: await time('store', '/console?store=recurly&store_state=blocked', { cookie }),
        target: 300,
      },
      { what: 'overview (/console/overview)', path: '/console/overview', ms: await time('overview', '/console/overview', { cookie }), target: 1000 },
      { what: 'compliance report (/console/report)', path: '/console/report', ms: await time('report', '/console/report', { cookie }) },
    ];
    const f = (n: number) => n.toFixed(1);
    const lines = [
      `${opts.open.toLocaleString('en')} open and ${opts.completed.toLocaleString('en')} completed requests, ${opts.runs} timed runs each after 3 warm-up runs, one session, sequential requests:`,
      '',
      '| call | median (ms) | p95 (ms) | max (ms) | target |',
      '|---|---|---|---|---|',
      ...results.map(
        (r) =>
          `| ${r.what} \`${r.path}\` | ${f(percentile(r.ms, 50))} | ${f(percentile(r.ms, 95))} | ${f(r.ms[r.ms.length - 1])} | ${r.target ? `< ${r.target} ms: ${percentile(r.ms, 95) < r.target ? 'met' : 'missed'} (p95)` : ''} |`,
      ),
    ];
    return lines.join('\n');
  } finally {
    await db.destroy().catch(() => undefined);
    await stack.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const { values } = parseArgs({ options: { open: { type: 'string', default: '10000' }, completed: { type: 'string', default: '20000' }, runs: { type: 'string', default: '30' } } });
  runConsoleBench({ open: Number(values.open), completed: Number(values.completed), runs: Number(values.runs) })
    .then((md) => process.stdout.write(`${md}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    });
}
