/**
 * Certificates made by the tests with openssl: a CA, a server certificate for localhost and
 * 127.0.0.1, a client certificate, and a second CA that signed neither (the "wrong CA").
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface TestCerts {
  dir: string;
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here: trusting it instead of `ca` must fail. */
  otherCa: string;
  /** A client certificate signed by `otherCa`, which the server must refuse. */
  strangerCert: string;
  strangerKey: string;
}

const openssl = (dir: string, ...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });

function key(dir: string, name: string): string {
  openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', name);
  return path.join(dir, name);
}

function ca(dir: string, name: string, subject: string): { cert: string; key: string } {
  const k = key(dir, `${name}.key`);
  openssl(
    dir,
    'req',
    '-x509',
    '-new',
    '-key',
    k,
    '-subj',
    `/CN=${subject}`,
    '-days',
    '2',
    '-out',
    `${name}.crt`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  return { cert: path.join(dir, `${name}.crt`), key: k };
}

function issue(dir: string, name: string, subject: string, issuer: { cert: string; key: string }, ext: string): { cert: string; key: string } {
  const k = key(dir, `${name}.key`);
  openssl(dir, 'req', '-new', '-key', k, '-subj', `/CN=${subject}`, '-out', `${name}.csr`);
  fs.writeFileSync(path.join(dir, `${name}.ext`), `${ext}\n`);
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', issuer.cert, '-CAkey', issuer.key, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  return { cert: path.join(dir, `${name}.crt`), key: k };
}

export function makeCerts(dir: string): TestCerts {
  fs.mkdirSync(dir, { recursive: true });
  const root = ca(dir, 'ca', 'Lethe test CA');
  const other = ca(dir, 'other-ca', 'Somebody else CA');
  const server = issue(dir, 'server', 'localhost', root, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE');
  const client = issue(dir, 'client', 'lethe-worker', root, 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE');
  const stranger = issue(dir, 'stranger', 'lethe-worker', other, 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE');
  return {
    dir,
    ca: root.cert,
    caKey: root.key,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    otherCa: other.cert,
    strangerCert: stranger.cert,
    strangerKey: stranger.key,
  };
}
