/**
 * The HTTP API (CONTRACT §5), a factory over its dependencies so tests start it on port 0
 * against the real stack.
 *
 * Every route but /healthz needs a bearer token from LETHE_API_TOKENS, and declares the least
 * role it needs (`config.role`; requester < operator < admin): a route without a declaration is
 * refused when it is registered, so no route can be added open by mistake. A token whose role
 * is short gets 403 naming the role needed and the token's name. Each token (and each address
 * without a valid one) is rate limited; bodies are JSON of at most 16 KiB; unknown body and
 * query fields are refused by name; logs carry method, route, status and duration. Every
 * state-changing call is recorded in the audit trail (client/audit.ts) with the token's name.
 */
import Fastify, { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { Knex } from 'knex';
import type pino from 'pino';
import type { Client } from '@temporalio/client';
import type { Config } from '../../config';
import { createIntake, DeletionRequestError, type Intake } from '../intake';
import { createFrontDoor, type FrontDoor } from '../front-door';
import { registerPrivacyRoutes } from './routes/privacy';
import { registerInboundRoutes } from './routes/inbound';
import { createInbound } from '../inbound';
import { pruneDeletedEmailHashes } from '../../stores/subjects';
import { pruneVerifications, watchAllAddresses } from '../../stores/verifications';
import { getFieldCipher } from '../../encryption';
import { requireKeyRing } from '../../config';
import { createRequestReader, type RequestReader } from '../requests';
import { createReconciler } from '../reconcile';
import { createOperatorActions, OperatorActionError } from '../operator';
import { strictAjv } from '../validation';
import { createSweepService, SweepRequestError, SweepService } from '../sweeps';
import { createScheduleService, ScheduleMissingError, ScheduleNotSettledError, type ScheduleService } from '../schedule';
import { createAuditTrail, type AuditTrail } from '../audit';
import { createTokenAuthority, credentialsOf, forbiddenBody, hasRole, type Caller, type Role } from './auth';
import { createRateLimiter } from './rate-limit';
import { ApiError, validationErrorBody } from './errors';
import { createApiLogger, errorSummary, RedactingLogController, routeOf } from './logger';
import { createApiMetrics } from './metrics';
import { registerDeletionRoutes } from './routes/deletions';
import { registerSweepRoutes } from './routes/sweeps';
import { registerOperationRoutes } from './routes/operations';
import { registerAuditRoutes, registerScheduleRoutes } from './routes/admin';
import { registerHoldRoutes } from './routes/holds';
import { registerCorrectionRoutes } from './routes/corrections';
import { createCorrectionService } from '../corrections';
import { registerAccessRoutes } from './routes/access';
import { registerRequestListRoutes } from './routes/requests';
import { createAccessService } from '../access';
import { forbiddenSchema } from './schemas';
import { createConsole } from '../console/plugin';

export interface ApiDeps {
  config: Config;
  db: Knex;
  temporal: Client;
  /** Defaults to the service over `db` and `temporal`. */
  intake?: Intake;
  /** Defaults to the front door over `intake` (the API process shares its own with the SMTP listener). */
  frontDoor?: FrontDoor;
  requests?: RequestReader;
  /** Defaults to the sweep service over `db` and `temporal`. */
  sweeps?: SweepService;
  /** Defaults to the Schedule named by `config.sweep.scheduleId`. */
  schedules?: ScheduleService;
  audit?: AuditTrail;
  logger?: pino.Logger;
  /** How often the maintenance pass runs (reconcile, prune, erase abandoned subjects); tests shorten it. */
  maintenanceIntervalMs?: number;
}

export const BODY_LIMIT_BYTES = 16 * 1024;
const RECONCILE_INTERVAL_MS = 60_000;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without a token (only /healthz). */
    public?: boolean;
    /** Failures count in lethe_deletion_requests_total. */
    countsDeletionRequests?: boolean;
    /** The least role that may call the route; every non-public route must say. */
    role?: Role;
    /** A role outside the ranking that may also call this route (`inbound` on the inbound-mail hook). */
    alsoRole?: 'inbound';
    /** A higher role the call needs given its validated input (a real sweep, not a dry run). */
    roleFor?: (req: FastifyRequest) => { role: Role; what: string } | undefined;
  }
  interface FastifyRequest {
    /** The token's holder, set before any handler runs (undefined on the public route). */
    caller?: Caller;
  }
}

export function createApiServer(deps: ApiDeps): FastifyInstance {
  const { config } = deps;
  const intake = deps.intake ?? createIntake(deps);
  const frontDoor: FrontDoor = deps.frontDoor ?? createFrontDoor({ config, db: deps.db, temporal: deps.temporal, intake });
  const reconciler = createReconciler({ db: deps.db, temporal: deps.temporal });
  const requests = deps.requests ?? createRequestReader({ ...deps, onEnded: reconciler.note });
  const sweeps = deps.sweeps ?? createSweepService(deps);
  const operator = createOperatorActions({ db: deps.db, temporal: deps.temporal, intake, requests });
  const schedules = deps.schedules ?? createScheduleService({ config, temporal: deps.temporal });
  const audit = deps.audit ?? createAuditTrail({ db: deps.db });
  const metrics = createApiMetrics(requests, deps.db);
  const app = Fastify({
    bodyLimit: BODY_LIMIT_BYTES,
    loggerInstance: (deps.logger ?? createApiLogger()) as FastifyBaseLogger,
    logController: new RedactingLogController(),
    // Ids in URLs are not secrets, but neither are they labels or log fields.
    maxParamLength: 200,
  });

  // Bodies exactly as sent (no coercion, no silently dropped fields); query strings and path
  // parameters are text, so there numbers and booleans are read from it.
  const bodyAjv = strictAjv();
  const textAjv = addFormats(new Ajv({ coerceTypes: true, removeAdditional: false, useDefaults: true, allErrors: false, strict: false }));
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema));

  const identify = createTokenAuthority(credentialsOf(config.api));
  const limiter = createRateLimiter({ perMinute: config.api.rateLimitPerMinute });
  app.decorateRequest('caller', undefined);

  // Every route states who may call it; the 403 it may answer joins its documented responses.
  app.addHook('onRoute', (route) => {
    const cfg = (route.config ?? {}) as { public?: boolean; role?: Role };
    const where = `${[route.method].flat().join(',')} ${route.url}`;
    if (cfg.public) return;
    if (!cfg.role) throw new Error(`route ${where} declares no role (config.role: requester, operator or admin; or config.public)`);
    const schema = (route.schema ??= {}) as { response?: Record<string, unknown>; description?: string };
    schema.response = { ...schema.response, 403: forbiddenSchema };
    schema.description = `${schema.description ? `${schema.description} ` : ''}Needs the ${cfg.role} role.`;
  });

  app.addHook('onRequest', async (req, reply) => {
    const isPublic = req.routeOptions.config?.public === true;
    const caller = isPublic ? undefined : identify(req.headers.authorization);
    // A valid token has its own budget; everything else shares its address's, so guessing
    // tokens is throttled like any other traffic.
    const decision = limiter.hit(caller ? `token:${caller.name}` : `addr:${req.ip}`);
    reply.header('ratelimit-limit', decision.limit).header('ratelimit-remaining', decision.remaining).header('ratelimit-reset', decision.resetSeconds);
    if (!decision.allowed) {
      return reply
        .code(429)
        .header('retry-after', decision.resetSeconds)
        .send({ error: 'rate_limited', message: `rate limit of ${decision.limit} requests per minute exceeded; retry after ${decision.resetSeconds} s` });
    }
    if (isPublic) return;
    if (!caller) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'missing or invalid bearer token' });
    req.caller = caller;
    // An unmatched route (404) has no role: any valid token may learn that it does not exist.
    // A route whose role depends on its input is judged once that input is validated (below),
    // so the 403 names the role this very call needs (a real sweep: admin, not operator).
    const needed = req.routeOptions.config?.role;
    if (needed && !req.routeOptions.config?.roleFor && !hasRole(caller, needed) && caller.role !== req.routeOptions.config?.alsoRole)
      return reply.code(403).send(forbiddenBody(caller, needed, `${req.method} ${routeOf(req)}`));
  });
  app.addHook('preHandler', async (req, reply) => {
    const cfg = req.routeOptions.config;
    if (!req.caller || !cfg?.roleFor || !cfg.role) return;
    const { role, what } = cfg.roleFor(req) ?? { role: cfg.role, what: `${req.method} ${routeOf(req)}` };
    const needed = hasRole({ role }, cfg.role) ? role : cfg.role;
    if (!hasRole(req.caller, needed)) return reply.code(403).send(forbiddenBody(req.caller, needed, what));
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.observeRequest(req.method, routeOf(req), reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { status, body } = errorReply(err, req);
    // Every refused deletion request is counted here, whether the schema or the service refused it.
    if (req.routeOptions.config?.countsDeletionRequests && status === 400) {
      metrics.deletionRequest(String((req.body as { channel?: unknown } | undefined)?.channel ?? 'invalid'), 'invalid');
    }
    if (status >= 500) req.log.error({ method: req.method, route: routeOf(req), status, error: errorSummary(err) }, 'request error');
    return reply.code(status).send(body);
  });

  void app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Lethe API',
        version: '1',
        description:
          "Files and follows deletions of people's data (CONTRACT §5). Every route but /healthz needs `Authorization: Bearer <token>`. Errors are `{ error, message, field? }`; a 400 names the field, e.g. `body/channel`.",
      },
      tags: [
        { name: 'deletions', description: 'Deletion requests from every channel' },
        { name: 'sweeps', description: 'The inactivity sweep and its daily Schedule' },
        { name: 'audit', description: 'Who changed what' },
        { name: 'holds', description: 'Legal holds: accounts whose deletion waits for the law' },
        { name: 'access', description: 'Access requests: a copy of a person’s data, mailed as a link to the address on file' },
        { name: 'corrections', description: 'Correction requests: a person’s name, phone, address or email put right in every store' },
        { name: 'public', description: 'Requests from the person, without a token (confirmed by a mailed link)' },
        { name: 'operations', description: 'Health, metrics, documentation' },
      ],
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'A named token from LETHE_API_TOKENS, with the role requester, operator or admin' } },
      },
      security: [{ bearerAuth: [] }],
    },
  });
  // Registered after the OpenAPI plugin, so it sees every route.
  void app.register(async (api) => {
    registerDeletionRoutes(api, { emailVerifiedTokens: config.frontDoor.emailVerifiedTokens, intake, frontDoor, requests, operator, metrics, audit, caller: callerName });
    registerSweepRoutes(api, { sweeps, metrics, audit, caller: callerName });
    registerScheduleRoutes(api, { schedules, audit, scheduleId: config.sweep.scheduleId, caller: callerName });
    registerAuditRoutes(api, { audit });
    // Access requests (CONTRACT §8), resolved by the deletion intake's own rule.
    registerAccessRoutes(api, { access: createAccessService({ config, db: deps.db, temporal: deps.temporal, resolve: intake.resolveAccount }), metrics, audit, caller: callerName });
    // Correction requests (CONTRACT §8): operators file them; the new address's link pages need no token.
    registerCorrectionRoutes(api, {
      corrections: createCorrectionService({ config, db: deps.db, temporal: deps.temporal }),
      audit,
      metrics,
      caller: callerName,
      publicPerClientPerMinute: config.frontDoor.publicPerClientPerMinute,
    });
    // Every type in one list (issue 35 item 6), from Lethe's tables.
    registerRequestListRoutes(api, { db: deps.db, deadlineHours: config.deletion.deadlineHours });
    registerHoldRoutes(api, { db: deps.db, fields: () => getFieldCipher(() => requireKeyRing(config)), intake, audit, registry: metrics.registry, caller: callerName });
    registerOperationRoutes(api, { db: deps.db, temporal: deps.temporal, namespace: config.temporal.namespace, metrics });
    // The front door (CONTRACT §6): the privacy page and public requests, no token.
    registerPrivacyRoutes(api, { config, frontDoor, audit, metrics });
    registerInboundRoutes(api, { inbound: createInbound({ frontDoor, log: (msg, fields) => app.log.info(fields, msg) }) });
  });
  // The privacy console (client/console): its own session gate, form parser and error pages.
  void app.register(createConsole({ config, db: deps.db, identify, requests, operator, audit }));

  // Requests whose run ended outside Lethe's code (terminated, timed out) are recorded as such
  // within a minute even if nobody reads them, so lists and gauges agree with Temporal.
  // The same pass prunes the audit trail past LETHE_AUDIT_RETENTION_DAYS (an indexed delete),
  // the operator actions (justifications, who) with it, and erases the captured subject of a
  // deletion that ended unfinished and was not resumed within LETHE_ABANDONED_SUBJECT_DAYS.
  // The front door's address watch (stores/verifications.ts), at most every LETHE_ADDRESS_WATCH_EVERY.
  let watchedAt = 0;
  let watching = false;
  const watchAddresses = async () => {
    if (watching || Date.now() - watchedAt < config.frontDoor.addressWatchEveryMs) return;
    watching = true;
    try {
      await watchAllAddresses(
        deps.db,
        getFieldCipher(() => requireKeyRing(config)),
      );
      watchedAt = Date.now();
    } finally {
      watching = false;
    }
  };
  const reconcileTimer = setInterval(() => {
    void watchAddresses().catch(() => undefined);
    void pruneVerifications(deps.db, { sealedDays: config.audit.abandonedSubjectDays, recordDays: 730 }).catch(() => undefined);
    void reconciler.pass(requests).catch(() => undefined);
    void audit.prune(config.audit.retentionDays).catch(() => undefined);
    void operator.prune(config.audit.retentionDays).catch(() => undefined);
    void reconciler.eraseAbandonedSubjects({ afterDays: config.audit.abandonedSubjectDays, audit }).catch(() => undefined);
    void pruneDeletedEmailHashes(deps.db, config.deletion.twinGuardDays).catch(() => undefined);
  }, deps.maintenanceIntervalMs ?? RECONCILE_INTERVAL_MS);
  reconcileTimer.unref();
  app.addHook('onClose', async () => {
    clearInterval(reconcileTimer);
    await reconciler.flush();
  });

  return app;
}

/** The token's name, for the audit trail and the operator trail's default `by`. */
const callerName = (req: FastifyRequest): string => req.caller?.name ?? 'unknown';

function errorReply(err: FastifyError, req: FastifyRequest): { status: number; body: { error: string; message: string; field?: string } } {
  if (err.validation) return { status: 400, body: validationErrorBody(err, req.body) };
  if (err instanceof ApiError) return { status: err.statusCode, body: err.body };
  const e: unknown = err;
  if (e instanceof DeletionRequestError) {
    const part = e.field === 'cursor' ? 'querystring' : 'body';
    const field = e.field ? `${part}/${e.field}` : undefined;
    const message = e.field && e.message.startsWith(e.field) ? `${part}/${e.message}` : field ? `${field}: ${e.message}` : e.message;
    const status = e.code === 'account_not_found' ? 404 : e.code === 'ambiguous_email' ? 409 : 400;
    return { status, body: { error: e.code, message, ...(field ? { field } : {}) } };
  }
  if (e instanceof OperatorActionError) {
    const status = e.code === 'not_found' ? 404 : e.code === 'conflict' ? 409 : 400;
    const field = e.field ? (e.field === 'requestId' ? 'params/requestId' : `body/${e.field}`) : undefined;
    return { status, body: { error: e.code, message: field ? `${field}: ${e.message}` : e.message, ...(field ? { field } : {}) } };
  }
  if (e instanceof ScheduleMissingError) return { status: 404, body: { error: 'not_found', message: e.message } };
  if (e instanceof ScheduleNotSettledError) return { status: 503, body: { error: 'unavailable', message: e.message } };
  if (e instanceof SweepRequestError) {
    return { status: 400, body: { error: e.code, message: `querystring/${e.message}`, field: `querystring/${e.field}` } };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { error: 'payload_too_large', message: `body is over ${BODY_LIMIT_BYTES} bytes`, field: 'body' } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: { error: 'unsupported_media_type', message: 'body must be application/json', field: 'body' } };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: { error: 'invalid_input', message: 'body must be a JSON object', field: 'body' } };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, body: { error: 'invalid_input', message: 'body is not valid JSON', field: 'body' } };
  }
  if (err.statusCode === 400 && err instanceof SyntaxError) return { status: 400, body: { error: 'invalid_input', message: 'body is not valid JSON', field: 'body' } };
  if (isUnavailable(err)) return { status: 503, body: { error: 'unavailable', message: `a dependency is unavailable (${req.method} ${routeOf(req)}); retry shortly` } };
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return { status: err.statusCode, body: { error: 'bad_request', message: err.message } };
  return { status: 500, body: { error: 'internal', message: 'internal error; see the API logs' } };
}

/** Temporal's gRPC UNAVAILABLE / DEADLINE_EXCEEDED, or PostgreSQL refusing connections. */
/**
 * gRPC statuses that say "not now" (Temporal busy or restarting): 14 UNAVAILABLE, 4
 * DEADLINE_EXCEEDED, 8 RESOURCE_EXHAUSTED (a rate limit), 1 CANCELLED (seen from the dev server
 * under a burst of 1,000 starts, bench/RESULTS.md §3c). A retried start is safe: the workflow id
 * is the account's, so a start that did go through is joined (client/intake.ts), not doubled.
 */
const TRANSIENT_GRPC = new Set([1, 4, 8, 14]);

function isUnavailable(err: unknown): boolean {
  for (let e = err as { code?: unknown; name?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (TRANSIENT_GRPC.has(e.code as number) || e.code === 'ECONNREFUSED' || e.code === '57P01' || e.name === 'KnexTimeoutError') return true;
  }
  return false;
}
