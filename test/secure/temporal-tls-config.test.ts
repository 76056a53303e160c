/**
 * Issue 19: the Temporal TLS and API key variables are checked at start, one line naming the
 * variable (config/temporal-tls.ts), and turned into the SDK's connection options.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, temporalClientConnectionOptions, temporalConnectionOptions } from '../../config';
import { makeCerts, type TestCerts } from './certs';

let dir: string;
let certs: TestCerts;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-tlscfg-'));
  certs = makeCerts(path.join(dir, 'certs'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const load = (env: Record<string, string>) => loadConfig({ LETHE_STATE_DIR: dir, TEMPORAL_ADDRESS: 'temporal.example:7233', ...env });

function refusal(env: Record<string, string>): string {
  try {
    load(env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a refusal, got none');
}

describe('Temporal TLS configuration', () => {
  test('when CA, certificate, key and server name are given, then the connection options carry the files as read now', () => {
    const config = load({ TEMPORAL_TLS_CA: certs.ca, TEMPORAL_TLS_CERT: certs.clientCert, TEMPORAL_TLS_KEY: certs.clientKey, TEMPORAL_TLS_SERVER_NAME: 'frontend.internal' });
    const options = temporalConnectionOptions(config.temporal);
    expect(options).toEqual({
      address: 'temporal.example:7233',
      tls: {
        serverNameOverride: 'frontend.internal',
        serverRootCACertificate: fs.readFileSync(certs.ca),
        clientCertPair: { crt: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) },
      },
    });
  });

  test('when nothing is set, then the connection is plain, as before', () => {
    expect(temporalConnectionOptions(load({}).temporal)).toEqual({ address: 'temporal.example:7233' });
  });

  test('when an API key is given, then TLS is on with the system CAs, the key is the SDK apiKey, and the namespace header is sent', () => {
    const config = load({ TEMPORAL_API_KEY: 'key-0123', TEMPORAL_NAMESPACE: 'lethe.a1b2c' });
    expect(temporalConnectionOptions(config.temporal)).toEqual({ address: 'temporal.example:7233', tls: {}, apiKey: 'key-0123', metadata: { 'temporal-namespace': 'lethe.a1b2c' } });
    // TEMPORAL_TLS=false turns TLS off for a plain-text server with an authorizer of its own.
    expect(temporalConnectionOptions(load({ TEMPORAL_API_KEY: 'key-0123', TEMPORAL_TLS: 'false' }).temporal).tls).toBeUndefined();
  });

  test('when the API key file is rotated in place, then the client uses the new key on its next call, without a restart', () => {
    const file = path.join(dir, 'api-key');
    fs.writeFileSync(file, 'first-key\n');
    const options = temporalClientConnectionOptions(load({ TEMPORAL_API_KEY_FILE: file }).temporal);
    const apiKey = options.apiKey as () => string;
    expect(apiKey()).toBe('first-key');
    fs.writeFileSync(file, 'second-key\n');
    // A different mtime, whatever the file system's resolution.
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    expect(apiKey()).toBe('second-key');
  });

  test.each([
    [{ TEMPORAL_TLS_CA: '/nonexistent/ca.pem' }, 'TEMPORAL_TLS_CA: cannot read /nonexistent/ca.pem (ENOENT)'],
    [{ TEMPORAL_TLS_CERT: '<CLIENT_CERT>' }, 'TEMPORAL_TLS_KEY: is required with TEMPORAL_TLS_CERT'],
    [{ TEMPORAL_TLS_KEY: '<CLIENT_KEY>' }, 'TEMPORAL_TLS_CERT: is required with TEMPORAL_TLS_KEY'],
    [{ TEMPORAL_TLS_CERT: '<CLIENT_CERT>', TEMPORAL_TLS_KEY: '<STRANGER_KEY>' }, 'TEMPORAL_TLS_KEY: <STRANGER_KEY> is not the private key of the certificate in TEMPORAL_TLS_CERT (<CLIENT_CERT>)'],
    [{ TEMPORAL_TLS_CERT: '<CLIENT_KEY>', TEMPORAL_TLS_KEY: '<CLIENT_KEY>' }, 'TEMPORAL_TLS_CERT: <CLIENT_KEY> is not a PEM certificate'],
    [{ TEMPORAL_TLS_CERT: '<CLIENT_CERT>', TEMPORAL_TLS_KEY: '<CLIENT_CERT>' }, 'TEMPORAL_TLS_KEY: <CLIENT_CERT> is not a PEM private key'],
    [{ TEMPORAL_TLS_CA: '<CA>', TEMPORAL_TLS: 'false' }, 'TEMPORAL_TLS: is false, but TEMPORAL_TLS_CA, TEMPORAL_TLS_CERT or TEMPORAL_TLS_SERVER_NAME is set'],
    [{ TEMPORAL_TLS: 'maybe' }, 'TEMPORAL_TLS: expected true or false, got "maybe"'],
    [{ TEMPORAL_API_KEY: 'k', TEMPORAL_API_KEY_FILE: '/nonexistent/key' }, 'TEMPORAL_API_KEY: set either TEMPORAL_API_KEY or TEMPORAL_API_KEY_FILE, not both'],
  ])('when %j, then one line: %s', (given, line) => {
    const files: Record<string, string> = { '<CA>': certs.ca, '<CLIENT_CERT>': certs.clientCert, '<CLIENT_KEY>': certs.clientKey, '<STRANGER_KEY>': certs.strangerKey };
    const env = Object.fromEntries(Object.entries(given).map(([k, v]) => [k, files[v] ?? v]));
    const expected = Object.entries(files).reduce((l, [name, file]) => l.split(name).join(file), line);
    const message = refusal(env);
    expect(message.startsWith(expected)).toBe(true);
    expect(message.split('\n')).toHaveLength(1);
    // Never the content of a key file.
    expect(message).not.toContain('PRIVATE KEY');
  });
});
