/**
 * The one validated configuration of Lethe. Every process (worker, API, CLI, stack supervisor)
 * reads it through loadConfig(), so a bad variable fails the same way everywhere: at start,
 * with one line naming the variable.
 */
import path from 'node:path';

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
  api: { host: string; port: number; tokens: string[] };
  temporal: { address: string; namespace: string; uiPort: number; taskQueue: string };
  database: { url: string; embedded: boolean };
  blob: { connectionString: string; embedded: boolean; containers: string[]; pageSize: number; batchConcurrency: number };
  auth0: { domain: string; clientId: string; clientSecret: string; baseUrl?: string };
  recurly: { apiKey: string; baseUrl?: string; refund: 'none' | 'partial' | 'full' };
  deletion: { deadlineHours: number; warningHours: number; webhookUrl?: string };
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
} as const;

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

/**
 * Reads and validates the configuration. Pure over `env` so tests can check each failure;
 * `apiTokensFallback` is how the embedded stack hands over its generated token.
 */
export function loadConfig(env: Env = process.env, opts: { apiTokensFallback?: string[] } = {}): Config {
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
    },
    temporal: {
      address: hostPort(env, 'TEMPORAL_ADDRESS', DEFAULTS.temporalAddress),
      namespace: env.TEMPORAL_NAMESPACE || DEFAULTS.namespace,
      uiPort: port(env, 'TEMPORAL_UI_PORT', DEFAULTS.temporalUiPort),
      taskQueue: env.LETHE_TASK_QUEUE || DEFAULTS.taskQueue,
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
  };

  if (cfg.deletion.warningHours >= cfg.deletion.deadlineHours) {
    throw new ConfigError('LETHE_WARNING_HOURS', `must be less than LETHE_DEADLINE_HOURS (${cfg.deletion.deadlineHours})`);
  }
  if (cfg.blob.containers.some((c) => !/^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$/.test(c))) {
    throw new ConfigError('LETHE_BLOB_CONTAINERS', 'each container name must be 3-63 lowercase letters, digits or hyphens');
  }
  if (mode === 'production') assertProduction(cfg, env);
  return cfg;
}

/** Production must never talk to a sandbox or run open: refuse to start rather than guess. */
function assertProduction(cfg: Config, env: Env): void {
  if (cfg.api.tokens.length === 0) throw new ConfigError('LETHE_API_TOKENS', 'is required in production mode');
  if (!env.DATABASE_URL) throw new ConfigError('DATABASE_URL', 'is required in production mode');
  if (!env.AZURE_STORAGE_CONNECTION_STRING) {
    throw new ConfigError('AZURE_STORAGE_CONNECTION_STRING', 'is required in production mode');
  }
  for (const name of ['AUTH0_DOMAIN', 'AUTH0_CLIENT_ID', 'AUTH0_CLIENT_SECRET', 'RECURLY_API_KEY']) {
    if (!env[name]) throw new ConfigError(name, 'is required in production mode');
  }
  if (env.AUTH0_BASE_URL) throw new ConfigError('AUTH0_BASE_URL', 'points at a sandbox and is refused in production mode');
  if (env.RECURLY_BASE_URL) throw new ConfigError('RECURLY_BASE_URL', 'points at a sandbox and is refused in production mode');
  if (/devstoreaccount1|UseDevelopmentStorage/.test(cfg.blob.connectionString)) {
    throw new ConfigError('AZURE_STORAGE_CONNECTION_STRING', 'points at the Azurite emulator and is refused in production mode');
  }
}
