/**
 * How every Lethe process reaches a Temporal that is not a loopback dev server: mutual TLS (a
 * self-hosted cluster, Temporal Cloud's namespace endpoint) or an API key (Temporal Cloud).
 *
 * The variable names are the Temporal CLI's (temporalcli/client.go in cli v1.5.1 reads
 * TEMPORAL_TLS_CA, TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY as file paths, and binds
 * TEMPORAL_TLS, TEMPORAL_TLS_SERVER_NAME and TEMPORAL_API_KEY to its flags): one environment
 * serves Lethe and the `temporal` CLI an operator reads histories with.
 *
 * The files are validated once at start (readable, PEM, a key that matches its certificate) and
 * read again by each new connection, so a renewed certificate is picked up on the next process
 * start; an API key file is re-read when it changes, by every call the client makes.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { ConfigError, type Env } from './env';
import { secretOrFile } from './keys';
import type { TemporalTls } from './types';

export type { TemporalTls } from './types';

/** The connection options both SDK connections take (client ConnectionOptions, worker NativeConnectionOptions). */
export interface TemporalConnectionOptions {
  address: string;
  tls?: { serverNameOverride?: string; serverRootCACertificate?: Buffer; clientCertPair?: { crt: Buffer; key: Buffer } } | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

function readFile(variable: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ConfigError(variable, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function certificate(variable: string, file: string): X509Certificate {
  try {
    return new X509Certificate(readFile(variable, file));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(variable, `${file} is not a PEM certificate`);
  }
}

function flag(env: Env, name: string): boolean | undefined {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '') return undefined;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${env[name]}"`);
}

/**
 * Reads and checks the TLS and API key variables. A key that does not match its certificate,
 * a certificate without its key, and an unreadable file each stop the process, naming the variable.
 */
export function temporalTls(env: Env): TemporalTls {
  const caFile = env.TEMPORAL_TLS_CA || undefined;
  const certFile = env.TEMPORAL_TLS_CERT || undefined;
  const keyFile = env.TEMPORAL_TLS_KEY || undefined;
  const serverName = env.TEMPORAL_TLS_SERVER_NAME || undefined;
  // Checked here, and read per call from the file (so a rotated key is used without a restart).
  const apiKeyValue = secretOrFile(env, 'TEMPORAL_API_KEY');
  const apiKeyFile = env.TEMPORAL_API_KEY_FILE || undefined;
  const apiKey = apiKeyFile ? undefined : apiKeyValue;

  if (caFile) certificate('TEMPORAL_TLS_CA', caFile);
  if (certFile && !keyFile) throw new ConfigError('TEMPORAL_TLS_KEY', "is required with TEMPORAL_TLS_CERT (the client certificate's private key file)");
  if (keyFile && !certFile) throw new ConfigError('TEMPORAL_TLS_CERT', 'is required with TEMPORAL_TLS_KEY (the client certificate file)');
  if (certFile && keyFile) {
    const cert = certificate('TEMPORAL_TLS_CERT', certFile);
    let key;
    try {
      key = createPrivateKey(readFile('TEMPORAL_TLS_KEY', keyFile));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError('TEMPORAL_TLS_KEY', `${keyFile} is not a PEM private key`);
    }
    if (!cert.checkPrivateKey(key)) throw new ConfigError('TEMPORAL_TLS_KEY', `${keyFile} is not the private key of the certificate in TEMPORAL_TLS_CERT (${certFile})`);
  }

  const anyTls = Boolean(caFile || certFile || serverName);
  const explicit = flag(env, 'TEMPORAL_TLS');
  if (explicit === false && anyTls) throw new ConfigError('TEMPORAL_TLS', 'is false, but TEMPORAL_TLS_CA, TEMPORAL_TLS_CERT or TEMPORAL_TLS_SERVER_NAME is set; unset one or the other');
  // An API key implies TLS, as the Temporal CLI defaults --tls when --api-key is given: Temporal
  // Cloud takes API keys over TLS only, and a bearer token must never cross the network in the clear.
  // TEMPORAL_TLS=false still turns it off for a plain-text server with an authorizer of its own.
  const enabled = explicit ?? (anyTls || Boolean(apiKeyValue));
  return { enabled, caFile, certFile, keyFile, serverName, apiKey, apiKeyFile };
}

const apiKeyCache = new Map<string, { mtimeMs: number; key: string }>();

/** The API key file's content, read again when the file changes (a rotated key without a restart). */
function apiKeyFromFile(file: string): string {
  let mtimeMs = -1;
  try {
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch {
    // Gone since start: keep using the key read last; the server says if it no longer works.
  }
  const cached = apiKeyCache.get(file);
  if (cached && (cached.mtimeMs === mtimeMs || mtimeMs === -1)) return cached.key;
  const key = secretOrFile({ TEMPORAL_API_KEY_FILE: file }, 'TEMPORAL_API_KEY')!;
  apiKeyCache.set(file, { mtimeMs, key });
  return key;
}

/**
 * The one place connection options are built, for the client's Connection and the worker's
 * NativeConnection alike (@temporalio/client ConnectionOptions and @temporalio/worker
 * NativeConnectionOptions: `tls` as TLSConfig { serverRootCACertificate, clientCertPair,
 * serverNameOverride } or `true`, `apiKey` sent as "Authorization: Bearer", `metadata`).
 * Files are read here, so every new connection uses the certificates on disk now.
 */
export function temporalConnectionOptions(temporal: { address: string; namespace: string; tls?: TemporalTls }): TemporalConnectionOptions {
  const t = temporal.tls;
  const options: TemporalConnectionOptions = { address: temporal.address };
  if (!t) return options;
  if (t.enabled) {
    const tls: Exclude<TemporalConnectionOptions['tls'], boolean | undefined> = {};
    if (t.serverName) tls.serverNameOverride = t.serverName;
    if (t.caFile) tls.serverRootCACertificate = readFile('TEMPORAL_TLS_CA', t.caFile);
    if (t.certFile && t.keyFile) tls.clientCertPair = { crt: readFile('TEMPORAL_TLS_CERT', t.certFile), key: readFile('TEMPORAL_TLS_KEY', t.keyFile) };
    // `{}`: TLS with the system's CAs, what Temporal Cloud's public certificates need.
    options.tls = tls;
  }
  const apiKey = t.apiKeyFile ? apiKeyFromFile(t.apiKeyFile) : t.apiKey;
  if (apiKey) {
    options.apiKey = apiKey;
    // Temporal Cloud's regional API-key endpoint (<region>.<cloud>.api.temporal.io:7233) routes a
    // call by this header; the namespace endpoint (<ns>.<account>.tmprl.cloud:7233) ignores it.
    options.metadata = { 'temporal-namespace': temporal.namespace };
  }
  return options;
}

/**
 * The client Connection's options: as above, with the API key as a callback (ConnectionOptions
 * takes `string | (() => string)`), so a key file rotated in place is used by the next call.
 */
export function temporalClientConnectionOptions(temporal: { address: string; namespace: string; tls?: TemporalTls }): Omit<TemporalConnectionOptions, 'apiKey'> & { apiKey?: string | (() => string) } {
  const options = temporalConnectionOptions(temporal);
  const file = temporal.tls?.apiKeyFile;
  return file ? { ...options, apiKey: () => apiKeyFromFile(file) } : options;
}

/** Where a TLS handshake's failure points: Node's error codes (OpenSSL's verify results and alerts). */
function handshakeProblem(address: string, t: TemporalTls | undefined, err: NodeJS.ErrnoException): { variable: string; problem: string } | undefined {
  const code = err.code ?? '';
  const why = `${code || err.message.split('\n')[0]}`;
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT/.test(code)) return undefined;
  if (!t?.enabled) return undefined; // A plain server refusing a TLS probe: TLS is not what is wrong.
  if (/ALTNAME/.test(code))
    return { variable: 'TEMPORAL_TLS_SERVER_NAME', problem: `the certificate of Temporal at ${address} is not issued for that name (${why}); set TEMPORAL_TLS_SERVER_NAME to a name it is issued for` };
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|DEPTH_ZERO/.test(code) && !/ALERT/.test(code)) {
    return {
      variable: 'TEMPORAL_TLS_CA',
      problem: `the certificate of Temporal at ${address} is not signed by ${t.caFile ? `the CA in TEMPORAL_TLS_CA (${t.caFile})` : "a CA this system trusts; set TEMPORAL_TLS_CA to the server's CA file"} (${why})`,
    };
  }
  if (/WRONG_VERSION|PACKET_LENGTH|UNKNOWN_PROTOCOL|HTTP_REQUEST/.test(code)) {
    return {
      variable: 'TEMPORAL_TLS',
      problem: `Temporal at ${address} does not speak TLS (${why}); unset TEMPORAL_TLS_CA, TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY and TEMPORAL_TLS_SERVER_NAME, or point TEMPORAL_ADDRESS at its TLS port`,
    };
  }
  if (/ALERT|ECONNRESET|EPIPE|HANDSHAKE/.test(code) || /alert|socket hang up/i.test(err.message)) {
    return t.certFile
      ? {
          variable: 'TEMPORAL_TLS_CERT',
          problem: `Temporal at ${address} refused the client certificate in TEMPORAL_TLS_CERT (${t.certFile}; ${why}); it must be signed by a CA the server trusts for clients`,
        }
      : { variable: 'TEMPORAL_TLS_CERT', problem: `Temporal at ${address} requires a client certificate (${why}); set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY` };
  }
  return undefined;
}

/**
 * Why a connection failed, found out by a TLS handshake of our own with the same files: the
 * SDK's connection says only "Failed to connect before the deadline" (the client's grpc-js
 * waitForReady) or a transport error (the worker's Rust core), whatever went wrong. Resolves
 * undefined when TLS is not the problem (the server is down, or answers as configured).
 */
export function diagnoseTemporalTls(temporal: { address: string; tls?: TemporalTls }, timeoutMs = 3_000): Promise<{ variable: string; problem: string } | undefined> {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(temporal.address);
  if (!m) return Promise.resolve(undefined);
  const [, host, port] = m;
  const t = temporal.tls;
  const options: tls.ConnectionOptions = { host, port: Number(port), ALPNProtocols: ['h2'] };
  if (t?.serverName) options.servername = t.serverName;
  else if (!net.isIP(host)) options.servername = host;
  if (t?.enabled) {
    if (t.caFile) options.ca = readFile('TEMPORAL_TLS_CA', t.caFile);
    if (t.certFile && t.keyFile) Object.assign(options, { cert: readFile('TEMPORAL_TLS_CERT', t.certFile), key: readFile('TEMPORAL_TLS_KEY', t.keyFile) });
  } else options.rejectUnauthorized = false;
  return new Promise((resolve) => {
    let done = false;
    const socket = tls.connect(options);
    const finish = (result: { variable: string; problem: string } | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.on('error', (err: NodeJS.ErrnoException) => finish(handshakeProblem(temporal.address, t, err)));
    socket.on('secureConnect', () => {
      if (!t?.enabled) {
        finish({
          variable: 'TEMPORAL_TLS_CA',
          problem: `Temporal at ${temporal.address} requires TLS; set TEMPORAL_TLS_CA to its CA file (TEMPORAL_TLS=true for a publicly trusted one), and TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY if it asks for client certificates (or TEMPORAL_API_KEY)`,
        });
        return;
      }
      // TLS 1.3 tells the client its certificate was refused only after the handshake, by an
      // alert on the next read: the HTTP/2 preface makes the server answer one way or the other.
      socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
      socket.once('data', () => finish(undefined));
      socket.once('close', () => finish(handshakeProblem(temporal.address, t, Object.assign(new Error('connection closed after the handshake'), { code: 'ECONNRESET' }))));
    });
  });
}

/**
 * Runs a connect call; when it fails and a handshake of our own shows TLS (or its absence) is
 * why, or the server refuses the API key, the failure is the ConfigError naming the variable to
 * fix (not retried: waiting does not fix a certificate). Otherwise the SDK's error as it was:
 * TEMPORAL_ADDRESS, retried by the startup wait. Never quotes a file's content or the API key.
 */
export async function connectingTo<T>(temporal: { address: string; tls?: TemporalTls }, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const e = err as { message?: string; cause?: { message?: string; code?: number } };
    const t = temporal.tls;
    if ((t?.apiKey || t?.apiKeyFile) && (e?.cause?.code === 16 || /UNAUTHENTICATED|api key/i.test(`${e?.message} ${e?.cause?.message ?? ''}`))) {
      const variable = t.apiKeyFile ? 'TEMPORAL_API_KEY_FILE' : 'TEMPORAL_API_KEY';
      throw new ConfigError(variable, `Temporal at ${temporal.address} refused the API key (${(e?.cause?.message ?? e?.message ?? '').split('\n')[0].slice(0, 160)})`);
    }
    const found = await diagnoseTemporalTls(temporal).catch(() => undefined);
    if (found) throw new ConfigError(found.variable, found.problem);
    throw err;
  }
}
