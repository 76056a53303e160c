/**
 * The reconciler's periodic pass finds the deletion runs that ended outside Lethe (terminated,
 * timed out) with one visibility query, not a describe per open request: with 10,000 open, a
 * pass of a call pair per row took 100 minutes in every API replica. A database of its own, so
 * the rows it plants (open, years past their deadline) do not show in the shared stack's lists
 * and overdue gauges; real runs on the shared Temporal, on a task queue no worker polls.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import { Client, Connection } from '@temporalio/client';
import { migrateLetheSchema } from '../../migrations';
import { createReconciler } from '../../client/reconcile';
import { createRequestReader } from '../../client/requests';
import { temporalConnectionOptions, requireKeyRing } from '../../config';
import { deletionWorkflowId } from '../../contract';
import { getDataConverter, parseKeyRing } from '../../encryption';
import { freshDatabase, type FreshDatabase } from '../support/fresh-database';
import { testConfig } from '../support/stack';

describe('reconciler pass', () => {
  const config = testConfig();
  /** Every gRPC call the client makes to Temporal, by method. */
  const calls: string[] = [];
  const counting: Interceptor = (options, nextCall) => {
    calls.push(options.method_definition.path.split('/').pop() ?? '');
    return new InterceptingCall(nextCall(options));
  };
  let fresh: FreshDatabase;
  let db: Knex;
  let connection: Connection;
  let temporal: Client;

  beforeAll(async () => {
    fresh = await freshDatabase('lethe_reconcile');
    db = fresh.db;
    await migrateLetheSchema(db);
    connection = await Connection.connect({ ...temporalConnectionOptions(config.temporal), interceptors: [counting] });
    temporal = new Client({ connection, namespace: config.temporal.namespace, dataConverter: getDataConverter(requireKeyRing(config)) });
  });
  afterAll(async () => {
    await connection?.close();
    await fresh?.drop();
  });

  test('when 1,000 requests are open and one run among them was terminated, then a pass asks Temporal one question plus the look at that run, records it failed, and the next pass asks one question', async () => {
    const created = new Date(Date.now() - 3_600_000);
    const open = Array.from({ length: 1000 }, () => ({ request_id: randomUUID(), account_id: randomUUID() }));
    await db('lethe.deletion_requests').insert(open.map((r) => ({ ...r, status: 'blocked', channel: 'support', created_at: created, received_at: created, deadline_at: created })));
    // Two of them have runs: one still running, one an operator terminated (the youngest row's).
    const taskQueue = `reconcile-nobody-${randomUUID()}`;
    const [running, terminated] = [open[3], open[998]];
    for (const r of [running, terminated]) {
      await temporal.workflow.start('accountDeletionWorkflow', { taskQueue, workflowId: deletionWorkflowId(r.account_id), args: [], memo: { requestId: r.request_id } });
    }
    await temporal.workflow.getHandle(deletionWorkflowId(terminated.account_id)).terminate('an operator stopped it');
    // A closed run whose memo was sealed with a key this ring does not hold (a retired key,
    // another deployment in the namespace): the pass must not need to open it.
    const foreign = new Client({ connection, namespace: config.temporal.namespace, dataConverter: getDataConverter(parseKeyRing(`retired-key:${randomBytes(32).toString('base64')}`)) });
    const retired = await foreign.workflow.start('accountDeletionWorkflow', { taskQueue, workflowId: deletionWorkflowId(randomUUID()), args: [], memo: { requestId: randomUUID() } });
    await retired.terminate('retired');

    const reconciler = createReconciler({ db, temporal });
    const reader = createRequestReader({ config, db, temporal, onEnded: reconciler.note });
    const pass = async () => {
      calls.length = 0;
      const looked = await reconciler.pass(reader);
      await reconciler.flush();
      return { looked, calls: [...calls] };
    };

    const first = await pass();
    expect(first.looked).toBe(1);
    expect(first.calls.filter((c) => c === 'ListWorkflowExecutions')).toHaveLength(1);
    // The look at the one that ended (describe, its history, its result): a handful, not 1,000.
    expect(first.calls.length).toBeLessThanOrEqual(6);
    expect(await db('lethe.deletion_requests').where({ request_id: terminated.request_id }).first()).toMatchObject({ status: 'failed' });
    expect(Number((await db('lethe.deletion_requests').where({ status: 'blocked' }).count({ n: '*' }).first())?.n)).toBe(999);

    const second = await pass();
    expect(second).toEqual({ looked: 0, calls: ['ListWorkflowExecutions'] });

    await temporal.workflow.getHandle(deletionWorkflowId(running.account_id)).terminate('test over');
  });

  test('when nothing is open, then a pass asks Temporal nothing', async () => {
    const empty = await freshDatabase('lethe_reconcile_empty');
    try {
      await migrateLetheSchema(empty.db);
      const reconciler = createReconciler({ db: empty.db, temporal });
      calls.length = 0;
      expect(await reconciler.pass({ get: async () => null })).toBe(0);
      expect(calls).toEqual([]);
    } finally {
      await empty.drop();
    }
  });
});
