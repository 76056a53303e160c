/**
 * Request body reading for the sandboxes. Bodies are capped so a runaway client (or a test
 * that streams garbage) cannot grow the sandbox's memory without bound.
 */
import type { IncomingMessage } from 'node:http';

export type BodyErrorType = 'too_large' | 'malformed';

export class RequestBodyError extends Error {
  constructor(
    readonly type: BodyErrorType,
    message: string,
  ) {
    super(message);
    this.name = 'RequestBodyError';
  }
}

export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;

export async function readBody(req: IncomingMessage, limitBytes = DEFAULT_BODY_LIMIT_BYTES): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    // Drain what the client is still sending so the connection can carry our answer.
    req.resume();
    throw new RequestBodyError('too_large', `request body exceeds ${limitBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > limitBytes) {
      req.resume();
      throw new RequestBodyError('too_large', `request body exceeds ${limitBytes} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** An absent or empty body reads as `undefined`, so handlers can tell "no body" from `{}`. */
export async function readJsonBody(req: IncomingMessage, limitBytes = DEFAULT_BODY_LIMIT_BYTES): Promise<unknown> {
  const raw = await readBody(req, limitBytes);
  if (raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new RequestBodyError('malformed', 'request body is not valid JSON');
  }
}

/** OAuth token endpoints accept both encodings; the Auth0 SDK sends form-urlencoded. */
export async function readFormOrJsonBody(req: IncomingMessage, limitBytes = DEFAULT_BODY_LIMIT_BYTES): Promise<Record<string, unknown>> {
  const contentType = String(req.headers['content-type'] ?? '').toLowerCase();
  const raw = await readBody(req, limitBytes);
  if (contentType.includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(raw));
  }
  if (raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new RequestBodyError('malformed', 'request body is neither JSON nor form-urlencoded');
  }
  if (!isPlainObject(parsed)) throw new RequestBodyError('malformed', 'request body must be a JSON object');
  return parsed;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
