/**
 * The codec server: lets the Temporal Web UI (and `temporal --codec-endpoint`) show decrypted
 * inputs, results and failures while Temporal itself only ever stores ciphertext. The keys
 * stay here; the browser sends payloads and gets them back decoded.
 *
 * Remote-codec protocol of Temporal: POST /decode and POST /encode with
 * `{"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}`, the same shape back.
 * The body is protobuf's JSON form of `temporal.api.common.v1.Payloads`, so an empty list may
 * come as `{}` (an empty repeated field is omitted; the CLI sends exactly that for a query or
 * signal without arguments) or `"payloads": null`; fields this server does not know are ignored,
 * and bytes may be standard or URL-safe base64, padded or not.
 *
 * Access control: a browser request is served only for an allowed origin (the Web UI's);
 * every other origin gets 403 and no CORS headers. Requests with no Origin come from tools,
 * not browsers. When a token is configured, POSTs must carry `Authorization: Bearer <token>`
 * (the CLI's `--codec-auth`); preflights never carry credentials, so they are not asked for it.
 *
 * With `credentials` (LETHE_CODEC_AUTH=api-tokens) the bearer may be any Lethe API token, and
 * the API's role model applies: decoded payloads are the personal data being deleted, so
 * decoding needs an operator (or admin); a requester's token gets 403 naming the role needed
 * and the token's name. The Temporal Web UI cannot take part: its "pass access token" setting
 * forwards the UI's own OIDC access token, never a Lethe token, so in this mode the UI shows
 * ciphertext and operators decode with `temporal ... --codec-auth "Bearer <token>"`.
 *
 * /encode is narrower than /decode. What it returns is ciphertext under Lethe's current key,
 * which the worker accepts as its own (a signal's or a start's input), so an open /encode would
 * let anyone who reaches this server hand Lethe's workflows input that bypasses the API's roles
 * and audit trail. It therefore encodes payloads only for an authenticated caller (the token's
 * holder, or an API token of the admin role), only in the encodings Lethe's payload converter
 * writes (never one already `binary/encrypted`, nor one without an encoding), and answers an
 * empty list for anyone who may decode: that is what the CLI sends for a query or a signal
 * without input. A production start without a token or api-tokens refuses to run
 * (assertCodecAuthenticated): decrypting is then open to anyone who reaches the port.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { ConfigError, type ApiCredential, type Config, type Role } from '../config';
import { createTokenAuthority, forbiddenBody, hasRole } from './api/auth';

export interface CodecServerOptions {
  codec: PayloadCodec;
  allowedOrigins: string[];
  token?: string;
  /** Named Lethe API tokens; a caller needs `requiredRole` (default operator). */
  credentials?: ApiCredential[];
  requiredRole?: Role;
  /** The role an API token needs to encode payloads (default admin); see above. */
  encodeRole?: Role;
  /** Payloads are at most 2 MB each in Temporal; a history page can carry many. */
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

export interface RunningCodecServer {
  server: http.Server;
  url: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

// Standard or URL-safe alphabet, padding optional: protojson accepts both for `bytes`.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function bytes(b64: unknown, where: string): Uint8Array {
  if (typeof b64 !== 'string' || !BASE64.test(b64)) throw new HttpError(400, `${where} must be base64`);
  return Buffer.from(b64, 'base64');
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Parses a `Payloads` message in protobuf's JSON form. Absent or null fields take their default
 * (no payloads, no metadata, no data); unknown fields are ignored, as by Temporal's own codecs.
 */
function fromJson(body: unknown): Payload[] {
  if (!isObject(body)) throw new HttpError(400, 'body must be a JSON object: {"payloads": [...]}');
  const payloads = body.payloads ?? [];
  if (!Array.isArray(payloads)) throw new HttpError(400, 'payloads must be an array: {"payloads": [...]}');
  return payloads.map((p: unknown, i) => {
    if (!isObject(p)) throw new HttpError(400, `payloads[${i}] must be an object`);
    const meta = p.metadata ?? {};
    if (!isObject(meta)) throw new HttpError(400, `payloads[${i}].metadata must be an object`);
    const metadata: Record<string, Uint8Array> = {};
    for (const [k, v] of Object.entries(meta)) metadata[k] = bytes(v, `payloads[${i}].metadata.${k}`);
    return { metadata, data: p.data === undefined || p.data === null ? undefined : bytes(p.data, `payloads[${i}].data`) };
  });
}

function toJson(payloads: Payload[]): { payloads: JsonPayload[] } {
  return {
    payloads: payloads.map((p) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      ...(p.data ? { data: Buffer.from(p.data).toString('base64') } : {}),
    })),
  };
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError(413, `body larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The encodings Lethe's payload converter writes: the only input /encode wraps. */
export const ENCODABLE_ENCODINGS = ['binary/null', 'binary/plain', 'json/plain', 'json/protobuf', 'binary/protobuf'] as const;

/** Refuses what the worker would not have written itself: an encrypted payload, no encoding, an unknown one. */
function assertEncodable(payloads: Payload[]): void {
  payloads.forEach((p, i) => {
    const encoding = p.metadata?.encoding ? Buffer.from(p.metadata.encoding).toString('utf8') : undefined;
    if (!encoding || !(ENCODABLE_ENCODINGS as readonly string[]).includes(encoding)) {
      throw new HttpError(400, `payloads[${i}] has encoding ${encoding === undefined ? '(none)' : JSON.stringify(encoding)}; /encode takes only ${ENCODABLE_ENCODINGS.join(', ')}`);
    }
  });
}

/**
 * A production codec server must know who calls it: without a token or API tokens, anyone who
 * reaches its port decrypts the personal data in every history. Throws naming the setting.
 */
export function assertCodecAuthenticated(config: Pick<Config, 'mode' | 'codec'>): void {
  if (config.mode !== 'production' || config.codec.token !== undefined || config.codec.auth === 'api-tokens') return;
  throw new ConfigError(
    'LETHE_CODEC_TOKEN',
    'is required for the codec server in production mode (or LETHE_CODEC_TOKEN_FILE, or LETHE_CODEC_AUTH=api-tokens): without it anyone who reaches the codec server can decrypt payloads',
  );
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createCodecServer(opts: CodecServerOptions): http.Server {
  const allowed = new Set(opts.allowedOrigins);
  const limit = opts.maxBodyBytes ?? 32 * 1024 * 1024;
  const log = opts.log ?? (() => undefined);
  const identify = opts.credentials ? createTokenAuthority(opts.credentials) : undefined;
  const requiredRole = opts.requiredRole ?? 'operator';
  const encodeRole = opts.encodeRole ?? 'admin';
  const authenticated = opts.token !== undefined || identify !== undefined;

  const send = (res: http.ServerResponse, status: number, body?: unknown) => {
    if (body === undefined) {
      res.writeHead(status).end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  };

  // The handler catches everything it throws; `void` marks the promise as handled.
  return http.createServer((req, res) => void handle(req, res));

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://codec');
    const origin = req.headers.origin;
    try {
      if (origin !== undefined) {
        if (!allowed.has(origin)) throw new HttpError(403, 'origin not allowed');
        res.setHeader('access-control-allow-origin', origin);
        res.setHeader('access-control-allow-credentials', 'true');
        res.setHeader('vary', 'Origin');
      }
      if (url.pathname === '/healthz' && req.method === 'GET') return send(res, 200, { ok: true });
      const op = url.pathname === '/decode' ? 'decode' : url.pathname === '/encode' ? 'encode' : undefined;
      if (!op) throw new HttpError(404, 'not found; POST /decode or /encode');
      if (req.method === 'OPTIONS') {
        res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
        res.setHeader('access-control-allow-headers', 'content-type, x-namespace, authorization');
        res.setHeader('access-control-max-age', '600');
        return send(res, 204);
      }
      if (req.method !== 'POST') throw new HttpError(405, 'POST only');
      let caller: ReturnType<NonNullable<typeof identify>>;
      if (authenticated) {
        const auth = req.headers.authorization ?? '';
        const given = auth.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
        const legacy = given !== undefined && opts.token !== undefined && sameSecret(given, opts.token);
        caller = !legacy && given !== undefined ? identify?.(`Bearer ${given}`) : undefined;
        if (!legacy && !caller) throw new HttpError(401, 'missing or wrong bearer token');
        if (caller && !hasRole(caller, requiredRole)) {
          const { message, ...rest } = forbiddenBody(caller, requiredRole, `POST ${url.pathname} (decoded payloads are personal data)`);
          throw new HttpError(403, message, rest);
        }
      }
      let body: unknown;
      try {
        body = JSON.parse((await readBody(req, limit)).toString('utf8'));
      } catch (err) {
        if (err instanceof HttpError) throw err;
        throw new HttpError(400, 'body is not JSON');
      }
      const payloads = fromJson(body);
      if (op === 'encode' && payloads.length > 0) {
        if (!authenticated) {
          throw new HttpError(
            403,
            'encoding needs an authenticated caller: set LETHE_CODEC_TOKEN (or LETHE_CODEC_AUTH=api-tokens); an open /encode would let anyone hand the workflows input that bypasses the API',
          );
        }
        if (caller && !hasRole(caller, encodeRole)) {
          const { message, ...rest } = forbiddenBody(caller, encodeRole, 'POST /encode (encoded payloads are input the workflows trust; use the API for operator actions)');
          throw new HttpError(403, message, rest);
        }
        assertEncodable(payloads);
      }
      let out: Payload[];
      try {
        out = await opts.codec[op](payloads);
      } catch (err) {
        // E.g. a key id this server does not have; the message names ids, never keys.
        throw new HttpError(422, (err as Error).message);
      }
      return send(res, 200, toJson(out));
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      // Method, path and status only: bodies are personal data once decoded.
      log(`codec ${req.method} ${url.pathname} -> ${status}${origin ? ` (origin ${origin})` : ''}`);
      if (!res.headersSent) send(res, status, err instanceof HttpError ? { message: err.message, ...err.extra } : { message: 'internal error' });
    }
  }
}

export async function startCodecServer(opts: CodecServerOptions & { host: string; port: number }): Promise<RunningCodecServer> {
  const server = createCodecServer(opts);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${opts.host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        // The UI keeps connections alive; closing must not wait for the browser to let go.
        server.closeAllConnections();
      }),
  };
}
