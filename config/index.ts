/**
 * The one validated configuration of Lethe. Every process (worker, API, CLI, stack supervisor)
 * reads it through loadConfig(), so a bad variable fails the same way everywhere: at start,
 * with one line naming the variable. Parsing (env.ts), key files (keys.ts), defaults
 * (defaults.ts) and the production policy (production.ts) live apart; each factory in the
 * product receives only the slice it uses.
 */
import path from 'node:path';
import type { Config, FrontDoorConfig, NoticeRung } from './types';
import { ConfigError, duration, hexPrefix, hostPort, oneOf, origins, port, positiveInteger, positiveNumber, readableFile, timeOfDay, timeZone, uiOrigins, url, type Env } from './env';
import { azuriteConnectionString, DEFAULTS, embeddedDatabaseUrl } from './defaults';
import { keyRing, secretOrFile, withSecretFiles } from './keys';
import { temporalTls } from './temporal-tls';
import { databaseConnection } from './database-tls';
import { assertProduction } from './production';
import { apiCredentials } from './tokens';
import { SWEEP_SCHEDULE_ID } from '../contract';
import { budgetDeletionsPerMinute, vendorBudget } from './budget';
import { workerDeployment } from './deployment';

export { ConfigError, uiOrigins } from './env';
export { AZURITE_ACCOUNT, AZURITE_KEY, azuriteConnectionString, DEFAULTS, EMBEDDED_KEYS_FILE, embeddedDatabaseUrl } from './defaults';

export type { Config, FrontDoorConfig, Mode, NoticeRung, SweepConfig } from './types';
export { connectingTo, diagnoseTemporalTls, temporalClientConnectionOptions, temporalConnectionOptions, type TemporalTls } from './temporal-tls';
export { requireKeyRing, SECRET_FILE_VARIABLES, withSecretFiles } from './keys';
export { credentialEntry, ROLES, TOKEN_ROLES, tokenDigest, type ApiCredential, type Role, type TokenRole } from './tokens';

/**
 * The notice ladder: `off`, or lead times such as `30d,7d` (days or hours), each given once;
 * longest first, whatever order they were written in.
 */
function noticeLadder(env: Env, name: string, fallback: string): NoticeRung[] {
  const raw = (env[name] || fallback).trim();
  if (raw.toLowerCase() === 'off') return [];
  const rungs = raw.split(',').map((part) => {
    const m = /^(\d+)\s*(d|h)$/i.exec(part.trim());
    if (!m || Number(m[1]) < 1) throw new ConfigError(name, `expected \`off\` or lead times such as 30d,7d (whole days or hours, at least 1), got "${raw}"`);
    const unit = m[2].toLowerCase();
    return { name: `${Number(m[1])}${unit}`, leadMs: Number(m[1]) * (unit === 'd' ? 86_400_000 : 3_600_000) };
  });
  if (new Set(rungs.map((r) => r.leadMs)).size !== rungs.length) throw new ConfigError(name, `each lead time may be given once, got "${raw}"`);
  return rungs.sort((a, b) => b.leadMs - a.leadMs);
}

/** An address alone (`privacy@lethe.test`) or with a name (`Lethe privacy team <privacy@lethe.test>`). */
const MAILBOX = /^(?:[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+|[^<>@]*<[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+>)$/;

/** Outbound mail, the public URL its links start with, and the privacy address (CONTRACT §6). */
function mailConfig(env: Env): Config['mail'] {
  // Embedded: the stack's mail catcher (LETHE_MAILPIT_SMTP_PORT moves it); production requires SMTP_URL.
  const smtpUrl = url(env, 'SMTP_URL', ['smtp:', 'smtps:']) ?? `smtp://127.0.0.1:${port(env, 'LETHE_MAILPIT_SMTP_PORT', DEFAULTS.mailSmtpPort)}`;
  // The API's own URL unless the API sits behind a proxy or another name (production requires it).
  const publicUrl = (url(env, 'LETHE_PUBLIC_URL', ['http:', 'https:']) ?? `http://127.0.0.1:${port(env, 'LETHE_API_PORT', DEFAULTS.apiPort)}`).replace(/\/+$/, '');
  const from = (env.LETHE_MAIL_FROM || DEFAULTS.mailFrom).trim();
  if (!MAILBOX.test(from)) throw new ConfigError('LETHE_MAIL_FROM', 'expected an address, or a name and an address: Name <privacy@example.com>');
  const privacyAddress = (env.LETHE_PRIVACY_ADDRESS || DEFAULTS.privacyAddress).trim();
  if (!MAILBOX.test(privacyAddress) || privacyAddress.includes('<')) throw new ConfigError('LETHE_PRIVACY_ADDRESS', 'expected an address: privacy@example.com');
  return { smtpUrl, from, publicUrl, privacyAddress, inboundSmtpPort: port(env, 'LETHE_INBOUND_SMTP_PORT', DEFAULTS.inboundSmtpPort) };
}

/**
 * Reads and validates the configuration. Pure over `env` so tests can check each failure;
 * `apiTokensFallback` is how the embedded stack hands over its generated token.
 */
export function loadConfig(rawEnv: Env = process.env, opts: { apiTokensFallback?: string[]; servesApi?: boolean } = {}): Config {
  // Secrets from mounted files first: everything below reads one value per variable.
  const env = withSecretFiles(rawEnv);
  const mode = oneOf(env, 'LETHE_MODE', ['embedded', 'production'] as const, 'embedded');
  const stateDir = path.resolve(env.LETHE_STATE_DIR || path.join(process.cwd(), '.lethe'));

  const { credentials, legacyTokens: tokens } = apiCredentials(env);
  const budget = vendorBudget(env);

  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  // sslmode and sslrootcert checked at start: a missing CA file is one line, not a pool error later.
  if (databaseUrl) databaseConnection(databaseUrl);
  const blobConnection = env.AZURE_STORAGE_CONNECTION_STRING || undefined;
  if (blobConnection !== undefined && !/(AccountName=|BlobEndpoint=|UseDevelopmentStorage=)/.test(blobConnection)) {
    throw new ConfigError('AZURE_STORAGE_CONNECTION_STRING', 'is not an Azure Storage connection string');
  }
  // Microsoft Entra ID (DefaultAzureCredential, worker/deps.ts) when no connection string is
  // given: accounts with Shared Key disallowed refuse every key-signed request. HTTPS only: the
  // SDK sends no bearer token over plain HTTP.
  const blobAccountUrl = blobConnection === undefined ? url(env, 'AZURE_STORAGE_ACCOUNT_URL', ['https:']) : undefined;
  const auth0BaseUrl = url(env, 'AUTH0_BASE_URL', ['http:', 'https:']);
  const recurlyBaseUrl = url(env, 'RECURLY_BASE_URL', ['http:', 'https:']);
  const webhookUrl = url(env, 'LETHE_WEBHOOK_URL', ['http:', 'https:']);
  const webhookSecret = secretOrFile(env, 'LETHE_WEBHOOK_SECRET');

  const auth0Domain = env.AUTH0_DOMAIN || (mode === 'embedded' ? 'lethe-sandbox.auth0.local' : '');
  const cfg: Config = {
    mode,
    stateDir,
    api: {
      host: env.LETHE_API_HOST || '127.0.0.1',
      port: port(env, 'LETHE_API_PORT', DEFAULTS.apiPort),
      tokens: tokens.length || credentials.length ? tokens : (opts.apiTokensFallback ?? []),
      credentials,
      rateLimitPerMinute: positiveInteger(env, 'LETHE_API_RATE_LIMIT', DEFAULTS.apiRateLimitPerMinute),
    },
    worker: {
      metricsHost: env.LETHE_WORKER_METRICS_HOST || '127.0.0.1',
      metricsPort: port(env, 'LETHE_WORKER_METRICS_PORT', DEFAULTS.workerMetricsPort),
      workflowBundle: readableFile(env, 'LETHE_WORKFLOW_BUNDLE'),
      deployment: workerDeployment(env, mode, env.LETHE_TASK_QUEUE || DEFAULTS.taskQueue),
    },
    temporal: {
      address: hostPort(env, 'TEMPORAL_ADDRESS', DEFAULTS.temporalAddress),
      namespace: env.TEMPORAL_NAMESPACE || DEFAULTS.namespace,
      uiPort: port(env, 'TEMPORAL_UI_PORT', DEFAULTS.temporalUiPort),
      taskQueue: env.LETHE_TASK_QUEUE || DEFAULTS.taskQueue,
      retentionDays: positiveInteger(env, 'LETHE_RETENTION_DAYS', DEFAULTS.retentionDays),
      tls: temporalTls(env),
    },
    database: {
      url: databaseUrl ?? embeddedDatabaseUrl(port(env, 'LETHE_POSTGRES_PORT', DEFAULTS.postgresPort)),
      embedded: databaseUrl === undefined,
    },
    blob: {
      connectionString: blobConnection ?? (blobAccountUrl ? '' : azuriteConnectionString(port(env, 'LETHE_AZURITE_PORT', DEFAULTS.azuritePort))),
      ...(blobAccountUrl ? { accountUrl: blobAccountUrl.replace(/\/+$/, '') } : {}),
      embedded: blobConnection === undefined && blobAccountUrl === undefined,
      containers: (env.LETHE_BLOB_CONTAINERS || 'media,exports')
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
      // Listing page (Azure caps it at 5000) and Blob Batch requests in flight per deletion.
      pageSize: Math.min(5000, Math.floor(positiveNumber(env, 'LETHE_BLOB_PAGE_SIZE', 5000))),
      batchConcurrency: Math.floor(positiveNumber(env, 'LETHE_BLOB_BATCH_CONCURRENCY', 8)),
    },
    auth0: {
      domain: auth0Domain,
      clientId: env.AUTH0_CLIENT_ID || (mode === 'embedded' ? DEFAULTS.auth0ClientId : ''),
      clientSecret: env.AUTH0_CLIENT_SECRET || (mode === 'embedded' ? DEFAULTS.auth0ClientSecret : ''),
      // Embedded mode always talks to a sandbox (the local one unless AUTH0_BASE_URL names
      // another); production always to the real tenant.
      baseUrl: auth0BaseUrl ?? (mode === 'embedded' ? `http://127.0.0.1:${port(env, 'LETHE_AUTH0_SANDBOX_PORT', DEFAULTS.auth0Port)}` : undefined),
      searchLagMs: positiveInteger(env, 'LETHE_AUTH0_SEARCH_LAG_MS', 2_000),
      logRetentionDays: positiveInteger(env, 'LETHE_AUTH0_LOG_RETENTION_DAYS', 30),
    },
    recurly: {
      apiKey: env.RECURLY_API_KEY || (mode === 'embedded' ? DEFAULTS.recurlyApiKey : ''),
      baseUrl: recurlyBaseUrl ?? (mode === 'embedded' ? `http://127.0.0.1:${port(env, 'LETHE_RECURLY_SANDBOX_PORT', DEFAULTS.recurlyPort)}` : undefined),
      refund: oneOf(env, 'LETHE_RECURLY_REFUND', ['none', 'partial', 'full'] as const, 'none'),
      // The site's data centre: an EU site answers 401 on the US host (the SDK's `region`).
      region: oneOf(env, 'RECURLY_REGION', ['us', 'eu'] as const, 'us'),
      // Which requests the site's rate limit counts (stores/recurlyHttpAdapter.ts).
      site: oneOf(env, 'RECURLY_SITE_KIND', ['sandbox', 'production'] as const, 'sandbox'),
    },
    deletion: {
      deadlineHours: positiveNumber(env, 'LETHE_DEADLINE_HOURS', 72),
      warningHours: positiveNumber(env, 'LETHE_WARNING_HOURS', 48),
      webhookUrl,
      webhookSecret,
      blockPolicy: {
        needsPersonBlockAfterMs: duration(env, 'LETHE_BLOCK_AFTER', '15m', 1_000),
        transientBlockAfterMs: duration(env, 'LETHE_BLOCK_AFTER_TRANSIENT', '6h', 1_000),
        retryEveryMs: duration(env, 'LETHE_STORE_RETRY_EVERY', '15m', 1_000),
        attemptBudgetMs: duration(env, 'LETHE_STORE_ATTEMPT_BUDGET', '30m', 1_000),
      },
      // How long a deleted person's email (a keyed hash) keeps a case twin from being taken for
      // them: a repeat request by email within it is refused as ambiguous (client/intake.ts).
      twinGuardDays: positiveInteger(env, 'LETHE_TWIN_GUARD_DAYS', 90),
    },
    frontDoor: frontDoorOf(env),
    sweep: {
      ...timeOfDay(env, 'LETHE_SWEEP_TIME', '03:00'),
      timezone: timeZone(env, 'LETHE_SWEEP_TIMEZONE', 'UTC'),
      catchupWindowMs: duration(env, 'LETHE_SWEEP_CATCHUP', '1d', 60_000),
      concurrency: positiveInteger(env, 'LETHE_SWEEP_CONCURRENCY', 4),
      // A twentieth above what the vendor budget lets the sweep's deletions through (82 a minute
      // by default: Recurly's sweep queue binds): the vendor queues pace them, and people's run
      // ahead. A fixed 40 held a sweep to 0.61 of the vendors' ceiling (bench/RESULTS.md §3f, §3j).
      startsPerMinute: positiveInteger(env, 'LETHE_SWEEP_STARTS_PER_MINUTE', Math.ceil(budgetDeletionsPerMinute(budget, 'sweep') * 1.05)),
      pageSize: Math.min(10_000, positiveInteger(env, 'LETHE_SWEEP_PAGE_SIZE', 1000)),
      // ~6 history events a page: 100 pages keep a run near 600 events, far below Temporal's guidance.
      pagesPerRun: positiveInteger(env, 'LETHE_SWEEP_PAGES_PER_RUN', 100),
      pageTimeBudgetMs: duration(env, 'LETHE_SWEEP_PAGE_BUDGET', '5m', 1_000),
      inactivityMonths: positiveInteger(env, 'LETHE_INACTIVITY_MONTHS', 24),
      notices: noticeLadder(env, 'LETHE_INACTIVITY_NOTICES', '30d,7d'),
      schedule: oneOf(env, 'LETHE_SWEEP_SCHEDULE', ['on', 'dry-run', 'off'] as const, 'on'),
      scheduleId: env.LETHE_SWEEP_SCHEDULE_ID || SWEEP_SCHEDULE_ID,
      scopePrefix: hexPrefix(env, 'LETHE_SWEEP_SCOPE'),
    },
    encryption: { keys: keyRing(env, mode, stateDir) },
    budget,
    // Long enough for a yearly access review; pruned by the API's maintenance pass.
    audit: {
      retentionDays: positiveInteger(env, 'LETHE_AUDIT_RETENTION_DAYS', 400),
      // A month for an operator to notice a terminated deletion and retry it from the capture.
      abandonedSubjectDays: positiveInteger(env, 'LETHE_ABANDONED_SUBJECT_DAYS', 30),
    },
    mail: mailConfig(env),
    // Access requests (docs/access.md): a container of Lethe's own, never one of the person's.
    access: {
      container: env.LETHE_ACCESS_CONTAINER || 'lethe-access',
      partBytes: Math.floor(positiveNumber(env, 'LETHE_ACCESS_PART_MB', 2048) * 1024 * 1024),
      linkTtlMs: duration(env, 'LETHE_ACCESS_LINK_TTL', '7d', 1_000),
    },
    console: {
      dueSoonHours: positiveNumber(env, 'LETHE_CONSOLE_DUE_SOON', 24),
      sessionHours: positiveNumber(env, 'LETHE_CONSOLE_SESSION_HOURS', 8),
      secureCookie: oneOf(env, 'LETHE_CONSOLE_SECURE_COOKIE', ['auto', 'always'] as const, 'auto'),
    },
    codec: {
      host: env.LETHE_CODEC_HOST || '127.0.0.1',
      port: port(env, 'LETHE_CODEC_PORT', DEFAULTS.codecPort),
      // The Web UI's own origin: the UI fetches /decode from the operator's browser.
      allowedOrigins: origins(env, 'LETHE_CODEC_ALLOWED_ORIGINS', uiOrigins(port(env, 'TEMPORAL_UI_PORT', DEFAULTS.temporalUiPort))),
      token: env.LETHE_CODEC_TOKEN || undefined,
      // `api-tokens`: decoding needs a Lethe API token of the operator role or above (the CLI's
      // --codec-auth); the Web UI can forward only its own OIDC token, so it cannot decode then.
      auth: oneOf(env, 'LETHE_CODEC_AUTH', ['origin', 'api-tokens'] as const, 'origin'),
    },
  };

  if (cfg.deletion.warningHours >= cfg.deletion.deadlineHours) {
    throw new ConfigError('LETHE_WARNING_HOURS', `must be less than LETHE_DEADLINE_HOURS (${cfg.deletion.deadlineHours})`);
  }
  if (cfg.deletion.webhookSecret !== undefined && cfg.deletion.webhookSecret.length < 16) {
    throw new ConfigError('LETHE_WEBHOOK_SECRET', 'must be at least 16 characters (e.g. from: openssl rand -hex 32)');
  }
  // Production never posts a webhook its receiver cannot verify.
  if (mode === 'production' && cfg.deletion.webhookUrl && !cfg.deletion.webhookSecret) {
    throw new ConfigError('LETHE_WEBHOOK_SECRET', 'is required in production mode when LETHE_WEBHOOK_URL is set (or LETHE_WEBHOOK_SECRET_FILE)');
  }
  if (cfg.codec.token !== undefined && cfg.codec.token.length < 16) {
    throw new ConfigError('LETHE_CODEC_TOKEN', 'must be at least 16 characters');
  }
  if (cfg.blob.containers.some((c) => !/^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$/.test(c))) {
    throw new ConfigError('LETHE_BLOB_CONTAINERS', 'each container name must be 3-63 lowercase letters, digits or hyphens');
  }
  // The archives are Lethe's, not the person's: a person's container would be deleted and counted with their media.
  if (cfg.access && (!/^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$/.test(cfg.access.container) || cfg.blob.containers.includes(cfg.access.container))) {
    throw new ConfigError('LETHE_ACCESS_CONTAINER', 'must be a container name (3-63 lowercase letters, digits or hyphens) and not one of LETHE_BLOB_CONTAINERS');
  }
  // Only a process that answers HTTP callers needs tokens: the worker and the tools do not, so
  // a production worker is not refused for lacking a secret it never uses.
  if (mode === 'production') assertProduction(cfg, env, opts.servesApi ?? true);
  return cfg;
}

function frontDoorOf(env: Env): FrontDoorConfig {
  const verificationTtlMs = duration(env, 'LETHE_VERIFICATION_TTL', '24h', 60_000);
  const reminder = env.LETHE_VERIFICATION_REMINDER?.trim().toLowerCase();
  const reminderBeforeMs = reminder === 'off' ? 0 : duration(env, 'LETHE_VERIFICATION_REMINDER', '6h', 1_000);
  if (reminderBeforeMs >= verificationTtlMs)
    throw new ConfigError('LETHE_VERIFICATION_REMINDER', `must be shorter than LETHE_VERIFICATION_TTL (the reminder goes that long before the link expires), or off`);
  return {
    verificationTtlMs,
    reminderBeforeMs,
    maxWrongAttempts: positiveInteger(env, 'LETHE_VERIFICATION_MAX_ATTEMPTS', 5),
    publicPerClientPerMinute: positiveInteger(env, 'LETHE_PUBLIC_RATE_LIMIT', 10),
    publicPerAddressPerHour: positiveInteger(env, 'LETHE_PUBLIC_ADDRESS_LIMIT', 3),
    addressChangeHoldMs: duration(env, 'LETHE_ADDRESS_CHANGE_HOLD', '72h', 0),
    addressWatchEveryMs: duration(env, 'LETHE_ADDRESS_WATCH_EVERY', '1h', 1_000),
    emailVerifiedTokens: (env.LETHE_EMAIL_VERIFIED_TOKENS ?? '')
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean),
  };
}
