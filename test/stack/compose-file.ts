/**
 * docker-compose.yml as Docker Compose resolves it (`docker-compose config`: variables
 * interpolated, anchors merged). No engine runs here, but Debian's docker-compose still parses
 * and interpolates the file; npm test installs it (scripts/ensure-test-packages.sh).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

/** The secrets compose insists on (`${VAR:?message}`), with placeholder values. */
export const REQUIRED_ENV: Record<string, string> = {
  AZURE_STORAGE_CONNECTION_STRING: 'DefaultEndpointsProtocol=https;AccountName=example;AccountKey=a2V5;EndpointSuffix=core.windows.net',
  AUTH0_DOMAIN: 'example.eu.auth0.com',
  AUTH0_CLIENT_ID: 'client',
  AUTH0_CLIENT_SECRET: 'secret',
  RECURLY_API_KEY: 'key',
  LETHE_ENCRYPTION_KEYS: 'k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  LETHE_API_TOKENS: 'a-long-enough-production-token',
  SMTP_URL: 'smtps://lethe:pw@mail.example.com:465',
  LETHE_PUBLIC_URL: 'https://privacy.example.com',
};

/** Fails (never skips) when docker-compose is missing, naming the package that provides it. */
export function requireCompose(): void {
  const r = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(
      `docker-compose is not installed (${r.error?.message ?? `exit ${r.status}`}), so docker-compose.yml cannot be checked: apt-get install docker-compose (npm test installs it through scripts/ensure-test-packages.sh when it runs as root)`,
    );
}

/**
 * Only PATH and HOME from the caller: a developer's own settings must not change the result.
 * `file`: another compose file (e.g. a modified copy), resolved as if it were the shipped one.
 */
export function compose(env: Record<string, string>, args = ['config', '-q'], file?: string) {
  const fileArgs = file ? ['-f', file, '--project-directory', ROOT] : [];
  return spawnSync('docker-compose', [...fileArgs, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, encoding: 'utf8' });
}

export interface ComposeService {
  image?: string;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  restart?: string;
  healthcheck?: { test?: unknown; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  volumes?: (string | { source?: string; target?: string })[];
  /** As `config` prints them: `ip:published:target/proto` strings, or `{published, target}` (all interfaces). */
  ports?: (string | number | { published?: number | string; target?: number | string; host_ip?: string })[];
  network_mode?: string;
}

/** A service's environment as strings (compose gives numbers and booleans as they are written). */
export function envOf(svc: ComposeService): Record<string, string> {
  return Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

// js-yaml ships no types here; only `safeLoad`/`load` is needed.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require('js-yaml') as { safeLoad?: (s: string) => unknown; load: (s: string) => unknown };

/** The resolved file's services, with every required secret given a placeholder. */
export function resolvedServices(env: Record<string, string> = REQUIRED_ENV, file?: string): Record<string, ComposeService> {
  requireCompose();
  const r = compose(env, ['config'], file);
  if (r.status !== 0) throw new Error(`docker-compose config failed (exit ${r.status}): ${r.stderr}`);
  return ((yaml.safeLoad ?? yaml.load)(r.stdout) as { services: Record<string, ComposeService> }).services;
}
