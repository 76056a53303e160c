/**
 * The CLI's HTTP client for the Lethe API: where it is, which token to send, and how each
 * answer maps to an exit code. The token is never printed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CliError, EXIT } from './exit';
import { secretOrFile } from '../../config/keys';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

/** The state dir the embedded stack writes (`.lethe` of this checkout unless LETHE_STATE_DIR says). */
export const stateDir = (env: NodeJS.ProcessEnv = process.env): string => path.resolve(env.LETHE_STATE_DIR || path.join(PROJECT_ROOT, '.lethe'));

export interface ApiTarget {
  url: string;
  token: string;
}

export function apiTarget(opts: { apiUrl?: string }, env: NodeJS.ProcessEnv = process.env): ApiTarget {
  const url = (opts.apiUrl || env.LETHE_API_URL || `http://127.0.0.1:${env.LETHE_API_PORT || 8080}`).replace(/\/+$/, '');
  try {
    new URL(url);
  } catch {
    throw new CliError(EXIT.usage, `--api-url / LETHE_API_URL: "${url}" is not a URL`);
  }
  // LETHE_API_TOKENS holds digests (name:role:sha256:…) nowadays; only a plaintext entry of the
  // earlier format is a token the CLI can send.
  const legacy = (env.LETHE_API_TOKENS ?? '')
    .split(',')
    .map((t) => t.trim())
    .find((t) => t && !/^[^:\s]*:[^:\s]*:sha256:/.test(t));
  let token: string;
  try {
    // LETHE_API_TOKEN_FILE: a mounted secret, as for the server's own secrets.
    token = secretOrFile(env, 'LETHE_API_TOKEN') || legacy || '';
  } catch (err) {
    throw new CliError(EXIT.usage, (err as Error).message);
  }
  if (!token) {
    const file = path.join(stateDir(env), 'api-token');
    try {
      token = fs.readFileSync(file, 'utf8').trim();
    } catch {
      throw new CliError(EXIT.auth, `no API token: set LETHE_API_TOKEN (or LETHE_API_TOKEN_FILE), or start the embedded stack (npm start), which writes ${file}`);
    }
  }
  return { url, token };
}

export interface ApiErrorBody {
  error: string;
  message: string;
  field?: string;
}

export async function call<T>(target: ApiTarget, method: 'GET' | 'POST', route: string, body?: unknown): Promise<{ status: number; body: T; location?: string }> {
  let res: Response;
  try {
    res = await fetch(`${target.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${target.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new CliError(EXIT.unreachable, `cannot reach the Lethe API at ${target.url} (${cause}); is it running (npm start)? Set LETHE_API_URL if it is elsewhere`);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (res.ok) return { status: res.status, body: parsed as T, location: res.headers.get('location') ?? undefined };
  const err = (parsed ?? { error: 'http_' + res.status, message: text.slice(0, 200) || res.statusText }) as ApiErrorBody;
  throw new CliError(exitFor(res.status), err.message ?? `HTTP ${res.status}`, err);
}

function exitFor(status: number): number {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 400 || status === 413 || status === 415) return EXIT.usage;
  if (status === 502 || status === 503 || status === 504) return EXIT.unreachable;
  return EXIT.failed;
}

/**
 * Runs an API call and rewrites a 400 that names a body field into the option the user typed
 * ("--by must be an identifier …" rather than "body/by …"); other failures pass unchanged.
 * `optionOf`: the command's body fields and their options.
 */
export async function asOptions<T>(optionOf: Record<string, string>, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const field = err instanceof CliError ? err.body?.field : undefined;
    if (!(err instanceof CliError) || !field || !optionOf[field]) throw err;
    throw new CliError(err.exitCode, err.body!.message.split(field).join(optionOf[field]), err.body);
  }
}
