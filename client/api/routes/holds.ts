/**
 * `/v1/holds`: legal holds (CONTRACT §7, docs/holds.md), admin only. A hold keeps an account
 * out of the sweep and makes its deletion requests wait (status `held`); releasing the last
 * hold on an account starts its held requests with 72 hours from the release. Each change is
 * audited by id; the reason, matter and justification (staff's free text) are sealed in
 * lethe.holds and never reach the audit trail, a log line or Temporal.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import { Gauge, type Registry } from 'prom-client';
import type { Intake } from '../../intake';
import type { AuditTrail } from '../../audit';
import type { FieldCipher } from '../../../encryption';
import { closeLapsedHolds, countActiveHolds, HoldError, isHeld, lapsedHolds, listHolds, placeHold, releaseHold, unfinishedRelease } from '../../../stores/holds';
import { ApiError } from '../errors';
import { MAINTENANCE_ACTOR } from '../../reconcile';
import { errorResponses } from '../schemas';
import { uuidSchema as uuid } from '../../validation';

const time = { type: 'string', format: 'date-time' } as const;
/** Free text by staff: bounded, and never empty. */
const text = (description: string) => ({ type: 'string', minLength: 1, maxLength: 2000, description }) as const;

const placeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['accountId', 'reason'],
  properties: {
    accountId: uuid,
    reason: text('Why the records must be kept (a legal obligation); sealed at rest, never mailed to the person'),
    matter: text('The case, audit or order it is for'),
    until: { ...time, description: 'When the hold ends by itself; absent: until released' },
  },
} as const;

const placedSchema = {
  type: 'object',
  required: ['holdId', 'accountId', 'placedAt'],
  properties: { holdId: uuid, accountId: uuid, placedAt: time, until: time },
} as const;

const holdSchema = {
  type: 'object',
  required: ['holdId', 'accountId', 'reason', 'placedAt', 'placedBy', 'active'],
  properties: {
    holdId: uuid,
    accountId: uuid,
    reason: { type: 'string' },
    matter: { type: 'string' },
    until: time,
    placedAt: time,
    placedBy: { type: 'string' },
    releasedAt: time,
    releasedBy: { type: 'string' },
    justification: { type: 'string' },
    active: { type: 'boolean' },
  },
} as const;

/** When the API looks again for a deletion run to hold, after placing a hold found none (ms after the placement, each from the last). */
const HOLD_RECHECK_MS = [500, 2_000, 5_000, 15_000];

/** How often the API looks for holds that ended by their `until` (their held requests then start). */
const LAPSE_CHECK_MS = 60_000;

/**
 * Holds that ended by their `until` release their account's held requests without an admin:
 * each starts with 72 hours from the moment the last hold ended, as a release would, and the
 * holds are recorded released then by Lethe (audited, `via: system`). A start that fails (Temporal
 * away) leaves the holds open, so the next pass tries again. Answers the accounts started.
 */
export async function startLapsedHolds(deps: { db: Knex; intake: Pick<Intake, 'startReleased'>; audit: AuditTrail; log?: (msg: string, fields: object) => void }): Promise<string[]> {
  const done: string[] = [];
  for (const lapsed of await lapsedHolds(deps.db)) {
    // One account's failure (its start refused, Temporal away for it) must not keep the others
    // held past their `until`: it is logged, its holds stay open, and the next pass tries again.
    try {
      await deps.intake.startReleased(lapsed.accountId, new Date(lapsed.endedAt));
      await closeLapsedHolds(deps.db, lapsed.holdIds);
      for (const holdId of lapsed.holdIds) {
        await deps.audit.record({ actor: MAINTENANCE_ACTOR, via: 'system', action: 'hold.released', accountId: lapsed.accountId, details: { holdId } });
      }
      done.push(lapsed.accountId);
    } catch (err) {
      deps.log?.('a hold that ended by its until could not start its held requests; the next pass tries again', { accountId: lapsed.accountId, error: String(err) });
    }
  }
  return done;
}

export function registerHoldRoutes(
  app: FastifyInstance,
  deps: { db: Knex; fields: () => FieldCipher; intake: Intake; audit: AuditTrail; registry: Registry; caller: (req: FastifyRequest) => string },
): void {
  const { db, intake, audit } = deps;
  const store = () => ({ db, fields: deps.fields() });

  // Holds that end by their `until`: their held requests start within a minute of it.
  let lapseTimer: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    lapseTimer = setInterval(() => void startLapsedHolds({ db, intake, audit, log: (msg, fields) => app.log.warn(fields, msg) }).catch(() => undefined), LAPSE_CHECK_MS);
    lapseTimer.unref();
  });
  app.addHook('onClose', async () => clearInterval(lapseTimer));

  const pendingRechecks = new Set<NodeJS.Timeout>();
  function recheckHold(accountId: string, placedAt: Date, delays = HOLD_RECHECK_MS): void {
    const [first, ...rest] = delays;
    if (first === undefined) return;
    const timer = setTimeout(() => {
      pendingRechecks.delete(timer);
      void (async () => {
        // Released meanwhile: nothing to hold.
        if (!(await isHeld(db, accountId))) return;
        if (!(await intake.holdRunning(accountId, placedAt))) recheckHold(accountId, placedAt, rest);
      })().catch(() => recheckHold(accountId, placedAt, rest));
    }, first);
    timer.unref();
    pendingRechecks.add(timer);
  }
  app.addHook('onClose', async () => {
    for (const t of pendingRechecks) clearTimeout(t);
  });

  // Read from the table at each scrape: how many accounts are under a hold now.
  new Gauge({
    name: 'lethe_holds_active',
    help: 'Accounts under a legal hold now (released or expired holds not counted)',
    registers: [deps.registry],
    async collect() {
      const n = await countActiveHolds(db).catch(() => undefined);
      if (n !== undefined) this.set(n);
    },
  });

  // Deletions deferred by a hold: requests waiting with status `held`, their 72-hour clock
  // paused (it starts at the release). Read at each scrape, as the gauge above.
  new Gauge({
    name: 'lethe_deletion_requests_held',
    help: 'Deletion requests deferred by a legal hold now (status held; their deadline clock is paused until the release)',
    registers: [deps.registry],
    async collect() {
      const row = await db('lethe.deletion_requests')
        .where({ status: 'held' })
        .first(db.raw('count(*)::int as n'))
        .catch(() => undefined);
      if (row) this.set(Number(row.n));
    },
  });

  app.post<{ Body: { accountId: string; reason: string; matter?: string; until?: string } }>(
    '/v1/holds',
    {
      config: { role: 'admin' },
      schema: {
        operationId: 'placeHold',
        tags: ['holds'],
        summary: 'Place a legal hold on an account',
        description: 'The account is not swept and its deletion requests wait with status `held` until the hold is released (or its `until` passes).',
        body: placeBody,
        response: { 201: placedSchema, ...errorResponses(400, 401, 429, 503) },
      },
    },
    async (req, reply) => {
      const { accountId, reason, matter, until } = req.body;
      if (until !== undefined && Date.parse(until) <= Date.now()) throw new ApiError(400, 'invalid_input', 'body/until must be in the future', 'body/until');
      const placed = await placeHold(store(), { accountId, reason, matter, until, placedBy: deps.caller(req) });
      await audit.record({ actor: deps.caller(req), via: 'api', action: 'hold.placed', accountId: placed.accountId, details: { holdId: placed.holdId } });
      // A deletion already running stops before its next store call (the workflow's hold signal).
      const signalled = await intake.holdRunning(placed.accountId, new Date(placed.placedAt));
      // None yet: a request may have passed the intake's hold check a moment before the hold and
      // be starting its run right now (no run to signal yet). Look again while such a start
      // could still be in flight; a run found then gets the hold before its first store call.
      if (!signalled) recheckHold(placed.accountId, new Date(placed.placedAt));
      return reply.code(201).send(placed);
    },
  );

  app.post<{ Params: { holdId: string }; Body: { justification: string } }>(
    '/v1/holds/:holdId/release',
    {
      config: { role: 'admin' },
      schema: {
        operationId: 'releaseHold',
        tags: ['holds'],
        summary: 'Release a legal hold',
        description:
          'With the account under no other hold, its held deletion requests start now, with 72 hours from the release; `started` lists them. When they could not be started (503), sending the same release again starts them (200) instead of answering 409.',
        params: { type: 'object', required: ['holdId'], properties: { holdId: uuid } },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['justification'],
          properties: { justification: text('Why the hold ends (the matter closed, the order lifted); sealed at rest') },
        },
        response: {
          200: {
            type: 'object',
            required: ['holdId', 'accountId', 'releasedAt', 'started'],
            properties: {
              holdId: uuid,
              accountId: uuid,
              releasedAt: time,
              started: { type: 'array', items: { type: 'object', properties: { requestId: uuid, deadlineAt: time } } },
            },
          },
          ...errorResponses(400, 401, 404, 409, 429, 503),
        },
      },
    },
    async (req) => {
      const holdId = req.params.holdId.toLowerCase();
      let released: { accountId: string; releasedAt: string; stillHeld: boolean };
      let again = false;
      try {
        released = await releaseHold(store(), { holdId, justification: req.body.justification, releasedBy: deps.caller(req) });
      } catch (err) {
        if (!(err instanceof HoldError)) throw err;
        // Released before, but what it held never started (Temporal was away): this call starts
        // it, from the first release's time; the first justification stands.
        const unfinished = err.code === 'hold_released' ? await unfinishedRelease(db, holdId) : undefined;
        if (!unfinished) throw new ApiError(err.code === 'hold_not_found' ? 404 : 409, err.code, err.message);
        released = { ...unfinished, stillHeld: false };
        again = true;
      }
      if (!again) await audit.record({ actor: deps.caller(req), via: 'api', action: 'hold.released', accountId: released.accountId, details: { holdId } });
      let started: Awaited<ReturnType<Intake['startReleased']>> = [];
      if (!released.stillHeld) {
        try {
          started = await intake.startReleased(released.accountId, new Date(released.releasedAt));
        } catch (err) {
          req.log.warn({ err, holdId }, 'hold released; its held requests did not start');
          throw new ApiError(503, 'unavailable', 'the hold is released, but the deletions it held could not be started now; send this release again to start them');
        }
      }
      return {
        holdId,
        accountId: released.accountId,
        releasedAt: released.releasedAt,
        started: started.map((s) => ({ requestId: s.requestId, deadlineAt: s.deadlineAt })),
      };
    },
  );

  app.get<{ Querystring: { accountId?: string } }>(
    '/v1/holds',
    {
      config: { role: 'admin' },
      schema: {
        operationId: 'listHolds',
        tags: ['holds'],
        summary: 'Legal holds, newest first (with their reasons, decrypted)',
        querystring: { type: 'object', additionalProperties: false, properties: { accountId: uuid } },
        response: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: holdSchema } } }, ...errorResponses(400, 401, 429) },
      },
    },
    async (req) => ({ items: await listHolds(store(), { accountId: req.query.accountId }) }),
  );
}
