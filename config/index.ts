/**
 * The one validated configuration of Lethe. Every process (worker, API, CLI, stack supervisor)
 * reads it through loadConfig(), so a bad variable fails the same way everywhere: at start,
 * with one line naming the variable.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KeyRing, KeyRingError, parseKeyRing } from '../encryption/keys';

export class ConfigError extends Error {
  readonly type = 'config_invalid';
  constructor(readonly variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

export type Mode = 'embedded' | 'production';

export interface Config {
  mode: Mode;
  /** Where the embedded stack keeps its state (database files, SQLite history, token, keys). */
  stateDir: string;
  /** `rateLimitPerMinute`: requests each token (or, without a valid token, each address) may make per minute. */
  api: { host: string; port: number; tokens: string[]; rateLimitPerMinute: number };
  /** The worker's Prometheus endpoint (Lethe's counters and the Temporal SDK's); port 0 turns it off. */
  worker: { metricsHost: string; metricsPort: number };
  temporal: { address: string; namespace: string; uiPort: number; taskQueue: string; retentionDays: number };
  database: { url: string; embedded: boolean };
  blob: { connectionString: string; embedded: boolean; containers: string[]; pageSize: number; batchConcurrency: number };
  auth0: { domain: string; clientId: string; clientSecret: string; baseUrl?: string };
  recurly: { apiKey: string; baseUrl?: string; refund: 'none' | 'partial' | 'full' };
  deletion: { deadlineHours: number; warningHours: number; webhookUrl?: string };
  /** The inactivity sweep (issue 4): its daily Schedule, its pace, and the policy's 24 months. */
  sweep: SweepConfig;
  /** Payload encryption keys (encryption/): required in production, written by the embedded stack. */
  encryption: { keys?: KeyRing };
  /** The codec server through which the Web UI shows decrypted payloads. */
  codec: { host: string; port: number; allowedOrigins: string[]; token?: string };
}

export interface SweepConfig {
  /** Local time of day the Schedule starts the sweep, `HH:MM` in `timezone`. */
  time: string;
  hour: number;
  minute: number;
  /** IANA zone of `time`, and of the calendar months counted back for the cut-off. */
  timezone: string;
  /** How late a missed run (Temporal down at the time) may still be taken, in ms. */
  catchupWindowMs: number;
  /** Deletion starts in flight at once (each is a few calls to Temporal and PostgreSQL). */
  concurrency: number;
  /** Deletions started per minute, so the vendors see a steady load below their limits. */
  startsPerMinute: number;
  /** Candidate accounts read per page (one activity per page). */
  pageSize: number;
  /** Months of inactivity after which an account is deleted (CONTRACT §1: 24). */
  inactivityMonths: number;
}

type Env = Record<string, string | undefined>;

export const DEFAULTS = {
  apiPort: 8080,
  temporalAddress: '127.0.0.1:7233',
  temporalUiPort: 8233,
  namespace: 'default',
  taskQueue: 'lethe-deletions',
  postgresPort: 5433,
  azuritePort: 10000,
  auth0Port: 4010,
  recurlyPort: 4011,
  auth0ClientId: 'lethe-dev',
  auth0ClientSecret: 'lethe-dev-secret',
  recurlyApiKey: 'lethe-dev-key',
  codecPort: 8089,
  workerMetricsPort: 9464,
  apiRateLimitPerMinute: 6000,
  retentionDays: 3,
} as const;

/** Where the embedded stack keeps its generated development key list. */
export const EMBEDDED_KEYS_FILE = 'encryption-keys';

/** Azurite's documented development account; public by design, never a real secret. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export const azuriteConnectionString = (port: number, host = '127.0.0.1'): string =>
  `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
  `BlobEndpoint=http://${host}:${port}/${AZURITE_ACCOUNT};`;

export const embeddedDatabaseUrl = (port: number): string =>
  `postgres://lethe:lethe@127.0.0.1:${port}/lethe`;

function port(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a port number 0-65535, got "${raw}"`);
  const n = Number(raw);
  if (n > 65535) throw new ConfigError(name, `expected a port number 0-65535, got ${n}`);
  return n;
}

function positiveNumber(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(name, `expected a positive number, got "${raw}"`);
  return n;
}

function positiveInteger(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new ConfigError(name, `expected a whole number of at least 1, got "${raw}"`);
  return Number(raw);
}

/** `HH:MM`, 24-hour clock. */
function timeOfDay(env: Env, name: string, fallback: string): { time: string; hour: number; minute: number } {
  const raw = env[name] || fallback;
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(raw);
  if (!m) throw new ConfigError(name, `expected a time of day HH:MM (00:00-23:59), got "${raw}"`);
  return { time: `${m[1].padStart(2, '0')}:${m[2]}`, hour: Number(m[1]), minute: Number(m[2]) };
}

/** An IANA time zone name the runtime knows, e.g. UTC or Europe/Lisbon. */
function timeZone(env: Env, name: string, fallback: string): string {
  const raw = env[name] || fallback;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: raw });
  } catch {
    throw new ConfigError(name, `expected an IANA time zone such as UTC or Europe/Lisbon, got "${raw}"`);
  }
  return raw;
}

/** A duration such as `1d`, `12h`, `30m`, `90s`, or `1 day`. */
function duration(env: Env, name: string, fallback: string, minMs: number): number {
  const raw = env[name] || fallback;
  const m = /^(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?)$/i.exec(raw.trim());
  if (!m) throw new ConfigError(name, `expected a duration such as 1d, 12h or 30m, got "${raw}"`);
  const unit = m[2][0].toLowerCase();
  const ms = Number(m[1]) * ({ s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as Record<string, number>)[unit];
  if (ms < minMs) throw new ConfigError(name, `must be at least ${minMs / 1000} seconds, got "${raw}"`);
  return ms;
}

export const uiOrigins = (uiPort: number): string[] => [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`];

function hostPort(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const m = /^([A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(raw);
  if (!m || Number(m[2]) > 65535) throw new ConfigError(name, `expected host:port, got "${raw}"`);
  return raw;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `expected a ${protocols.join(' or ')} URL, got ${parsed.protocol}`);
  }
  return raw;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

/** Comma-separated browser origins (scheme://host[:port]), as a CORS allow-list compares them. */
function origins(env: Env, name: string, fallback: string[]): string[] {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  return raw.split(',').map((o) => o.trim()).filter(Boolean).map((o) => {
    let u: URL;
    try {
      u = new URL(o);
    } catch {
      throw new ConfigError(name, `"${o}" is not an origin like http://127.0.0.1:8233`);
    }
    if (!['http:', 'https:'].includes(u.protocol) || u.origin !== o.replace(/\/$/, '')) {
      throw new ConfigError(name, `"${o}" is not an origin like http://127.0.0.1:8233 (scheme, host and port only)`);
    }
    return u.origin;
  });
}

/**
 * The payload keys: LETHE_ENCRYPTION_KEYS or the file LETHE_ENCRYPTION_KEYS_FILE names; in
 * embedded mode also the key file a running embedded stack keeps in the state dir, so a worker
 * or CLI started beside `npm start` reads what it writes. Errors never quote key material.
 */
function keyRing(env: Env, mode: Mode, stateDir: string): KeyRing | undefined {
  const inline = env.LETHE_ENCRYPTION_KEYS || undefined;
  const file = env.LETHE_ENCRYPTION_KEYS_FILE || undefined;
  const currentId = env.LETHE_ENCRYPTION_KEY_ID || undefined;
  if (inline && file) throw new ConfigError('LETHE_ENCRYPTION_KEYS', 'set either LETHE_ENCRYPTION_KEYS or LETHE_ENCRYPTION_KEYS_FILE, not both');
  const embeddedFile = path.join(stateDir, EMBEDDED_KEYS_FILE);
  let source: { variable: string; text: string } | undefined;
  if (inline) source = { variable: 'LETHE_ENCRYPTION_KEYS', text: inline };
  else if (file || (mode === 'embedded' && fs.existsSync(embeddedFile))) {
    const where = file ?? embeddedFile;
    try {
      source = { variable: 'LETHE_ENCRYPTION_KEYS_FILE', text: fs.readFileSync(where, 'utf8') };
    } catch (err) {
      throw new ConfigError('LETHE_ENCRYPTION_KEYS_FILE', `cannot read ${where} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (!source) {
    if (currentId) throw new ConfigError('LETHE_ENCRYPTION_KEY_ID', 'is set but no keys are (LETHE_ENCRYPTION_KEYS or LETHE_ENCRYPTION_KEYS_FILE)');
    // Production requires keys: assertProduction says so, after the checks that come first.
    return undefined;
  }
  let ring: KeyRing;
  try {
    ring = parseKeyRing(source.text);
  } catch (err) {
    if (err instanceof KeyRingError) throw new ConfigError(source.variable, err.message);
    throw err;
  }
  if (!currentId) return ring;
  if (!ring.get(currentId)) throw new ConfigError('LETHE_ENCRYPTION_KEY_ID', `names "${currentId}", but no configured key has that id (configured: ${ring.keyIds.join(', ')})`);
  return ring.withCurrent(currentId);
}

/**
 * Reads and validates the configuration. Pure over `env` so tests can check each failure;
 * `apiTokensFallback` is how the embedded stack hands over its generated token.
 */
export function loadConfig(env: Env = process.env, opts: { apiTokensFallback?: string[]; servesApi?: boolean } = {}): Config {
  const mode = oneOf(env, 'LETHE_MODE', ['embedded', 'production'] as const, 'embedded');
  const stateDir = path.resolve(env.LETHE_STATE_DIR || path.join(process.cwd(), '.lethe'));

  const tokens = (env.LETHE_API_TOKENS ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of tokens) {
    if (t.length < 16) throw new ConfigError('LETHE_API_TOKENS', 'each token must be at least 16 characters');
  }

  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const blobConnection = env.AZURE_STORAGE_CONNECTION_STRING || undefined;
  if (blobConnection !== undefined && !/(AccountName=|BlobEndpoint=|UseDevelopmentStorage=)/.test(blobConnection)) {
    throw new ConfigError('AZURE_STORAGE_CONNECTION_STRING', 'is not an Azure Storage connection string');
  }
  const auth0BaseUrl = url(env, 'AUTH0_BASE_URL', ['http:', 'https:']);
  const recurlyBaseUrl = url(env, 'RECURLY_BASE_URL', ['http:', 'https:']);
  const webhookUrl = url(env, 'LETHE_WEBHOOK_URL', ['http:', 'https:']);

  const auth0Domain = env.AUTH0_DOMAIN || (mode === 'embedded' ? 'lethe-sandbox.auth0.local' : '');
  const cfg: Config = {
    mode,
    stateDir,
    api: {
      host: env.LETHE_API_HOST || '127.0.0.1',
      port: port(env, 'LETHE_API_PORT', DEFAULTS.apiPort),
      tokens: tokens.length ? tokens : opts.apiTokensFallback ?? [],
      rateLimitPerMinute: positiveInteger(env, 'LETHE_API_RATE_LIMIT', DEFAULTS.apiRateLimitPerMinute),
    },
    worker: {
      metricsHost: env.LETHE_WORKER_METRICS_HOST || '127.0.0.1',
      metricsPort: port(env, 'LETHE_WORKER_METRICS_PORT', DEFAULTS.workerMetricsPort),
    },
    temporal: {
      address: hostPort(env, 'TEMPORAL_ADDRESS', DEFAULTS.temporalAddress),
      namespace: env.TEMPORAL_NAMESPACE || DEFAULTS.namespace,
      uiPort: port(env, 'TEMPORAL_UI_PORT', DEFAULTS.temporalUiPort),
      taskQueue: env.LETHE_TASK_QUEUE || DEFAULTS.taskQueue,
      retentionDays: positiveInteger(env, 'LETHE_RETENTION_DAYS', DEFAULTS.retentionDays),
    },
    database: {
      url: databaseUrl ?? embeddedDatabaseUrl(port(env, 'LETHE_POSTGRES_PORT', DEFAULTS.postgresPort)),
      embedded: databaseUrl === undefined,
    },
    blob: {
      connectionString: blobConnection ?? azuriteConnectionString(port(env, 'LETHE_AZURITE_PORT', DEFAULTS.azuritePort)),
      embedded: blobConnection === undefined,
      containers: (env.LETHE_BLOB_CONTAINERS || 'media,exports').split(',').map((c) => c.trim()).filter(Boolean),
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
    },
    recurly: {
      apiKey: env.RECURLY_API_KEY || (mode === 'embedded' ? DEFAULTS.recurlyApiKey : ''),
      baseUrl: recurlyBaseUrl ?? (mode === 'embedded' ? `http://127.0.0.1:${port(env, 'LETHE_RECURLY_SANDBOX_PORT', DEFAULTS.recurlyPort)}` : undefined),
      refund: oneOf(env, 'LETHE_RECURLY_REFUND', ['none', 'partial', 'full'] as const, 'none'),
    },
    deletion: {
      deadlineHours: positiveNumber(env, 'LETHE_DEADLINE_HOURS', 72),
      warningHours: positiveNumber(env, 'LETHE_WARNING_HOURS', 48),
      webhookUrl,
    },
    sweep: {
      ...timeOfDay(env, 'LETHE_SWEEP_TIME', '03:00'),
      timezone: timeZone(env, 'LETHE_SWEEP_TIMEZONE', 'UTC'),
      catchupWindowMs: duration(env, 'LETHE_SWEEP_CATCHUP', '1d', 60_000),
      concurrency: positiveInteger(env, 'LETHE_SWEEP_CONCURRENCY', 4),
      // About 6 Recurly and 9 Auth0 calls per deletion: 40 a minute is ~240 of Recurly's 400
      // requests a minute and ~6 of Auth0's 16 a second, leaving room for the other channels.
      startsPerMinute: positiveInteger(env, 'LETHE_SWEEP_STARTS_PER_MINUTE', 40),
      pageSize: Math.min(10_000, positiveInteger(env, 'LETHE_SWEEP_PAGE_SIZE', 1000)),
      inactivityMonths: positiveInteger(env, 'LETHE_INACTIVITY_MONTHS', 24),
    },
    encryption: { keys: keyRing(env, mode, stateDir) },
    codec: {
      host: env.LETHE_CODEC_HOST || '127.0.0.1',
      port: port(env, 'LETHE_CODEC_PORT', DEFAULTS.codecPort),
      // The Web UI's own origin: the UI fetches /decode from the operator's browser.
      allowedOrigins: origins(env, 'LETHE_CODEC_ALLOWED_ORIGINS', uiOrigins(port(env, 'TEMPORAL_UI_PORT', DEFAULTS.temporalUiPort))),
      token: env.LETHE_CODEC_TOKEN || undefined,
    },
  };

  if (cfg.deletion.warningHours >= cfg.deletion.deadlineHours) {
    throw new ConfigError('LETHE_WARNING_HOURS', `must be less than LETHE_DEADLINE_HOURS (${cfg.deletion.deadlineHours})`);
  }
  if (cfg.codec.token !== undefined && cfg.codec.token.length < 16) {
    throw new ConfigError('LETHE_CODEC_TOKEN', 'must be at least 16 characters');
  }
  if (cfg.blob.containers.some((c) => !/^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$/.test(c))) {
    throw new ConfigError('LETHE_BLOB_CONTAINERS', 'each container name must be 3-63 lowercase letters, digits or hyphens');
  }
  // Only a process that answers HTTP callers needs tokens: the worker and the tools do not, so
  // a production worker is not refused for lacking a secret it never uses.
  if (mode === 'production') assertProduction(cfg, env, opts.servesApi ?? true);
  return cfg;
}

/** Production must never talk to a sandbox or run open: refuse to start rather than guess. */
function assertProduction(cfg: Config, env: Env, servesApi: boolean): void {
  if (servesApi && cfg.api.tokens.length === 0) throw new ConfigError('LETHE_API_TOKENS', 'is required in production mode');
  if (!env.DATABASE_URL) throw new ConfigError('DATABASE_URL', 'is required in production mode');
  if (!env.AZURE_STORAGE_CONNECTION_STRING) {
    throw new ConfigError('AZURE_STORAGE_CONNECTION_STRING', 'is required in production mode');
  }
  for (const name of ['AUTH0_DOMAIN', 'AUTH0_CLIENT_ID', 'AUTH0_CLIENT_SECRET', 'RECURLY_API_KEY']) {
    if (!env[name]) throw new ConfigError(name, 'is required in production mode');
  }
  // No plaintext fallback: a worker without keys would write readable personal data into history.
  if (!cfg.encryption.keys) throw new ConfigError('LETHE_ENCRYPTION_KEYS', 'is required in production mode (or LETHE_ENCRYPTION_KEYS_FILE)');
  if (env.AUTH0_BASE_URL) throw new ConfigError('AUTH0_BASE_URL', 'points at a sandbox and is refused in production mode');
  if (env.RECURLY_BASE_URL) throw new ConfigError('RECURLY_BASE_URL', 'points at a sandbox and is refused in production mode');
  if (/devstoreaccount1|UseDevelopmentStorage/.test(cfg.blob.connectionString)) {
    throw new ConfigError('AZURE_STORAGE_CONNECTION_STRING', 'points at the Azurite emulator and is refused in production mode');
  }
}
