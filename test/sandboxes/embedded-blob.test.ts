/**
 * The embedded stack's blob storage (dev/stack/embedded.ts, issue 36 item 10): with
 * AZURE_STORAGE_ACCOUNT_URL and no connection string it uses that account, signed in with
 * Microsoft Entra ID as the worker does, and starts no Azurite (which cannot do Entra ID); a URL
 * it cannot use is refused in one line naming the variable. Entra itself cannot be reached from
 * here: the container set-up is shown against the Azure Blob double over HTTPS with a bearer
 * token standing in for DefaultAzureCredential's (as test/blobs/entra.test.ts does).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { TokenCredential } from '@azure/identity';
import { blobSetup } from '../../dev/stack/embedded';
import { ensureContainers } from '../../dev/stack/azurite';
import { startAzureDouble, type AzureDouble } from '../support/azure-double';
import { makeCerts } from '../secure/certs';

const OWNER = 'token-of-an-owner';
const tokenCredential = (token: string): TokenCredential => ({ getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) });

describe('embedded stack: AZURE_STORAGE_ACCOUNT_URL', () => {
  let dir: string;
  let double: AzureDouble;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-embedded-blob-'));
    const certs = makeCerts(dir);
    tls.setDefaultCACertificates([...tls.getCACertificates('default'), fs.readFileSync(certs.ca, 'utf8')]);
    double = await startAzureDouble({ principals: { [OWNER]: 'Storage Blob Data Owner' } }, ['media', 'exports'], {
      tls: { cert: fs.readFileSync(certs.serverCert, 'utf8'), key: fs.readFileSync(certs.serverKey, 'utf8') },
    });
  });
  afterAll(async () => {
    await double?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('when only the account URL is set, then the stack uses it with Entra ID (no Azurite); a connection string still wins; neither starts Azurite', () => {
    const url = 'https://lethedata.blob.core.windows.net';
    expect(blobSetup({ AZURE_STORAGE_ACCOUNT_URL: url })).toEqual({ kind: 'entra', accountUrl: url });
    expect(blobSetup({ AZURE_STORAGE_ACCOUNT_URL: url, AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' })).toEqual({
      kind: 'connection',
      connectionString: 'UseDevelopmentStorage=true',
    });
    expect(blobSetup({})).toEqual({ kind: 'azurite' });
  });

  test('when the account URL is not https, then the stack refuses it in one line naming the variable', () => {
    for (const bad of ['http://127.0.0.1:10000/devstoreaccount1', 'not a url']) {
      expect(() => blobSetup({ AZURE_STORAGE_ACCOUNT_URL: bad })).toThrow(/^AZURE_STORAGE_ACCOUNT_URL: expected the https URL .*Azurite cannot sign in with Microsoft Entra ID/);
    }
  });

  test('when the containers are set up through the account URL, then they are reached with a bearer token, and an identity the account refuses is named in one line', async () => {
    const before = double.requests.length;
    await ensureContainers({ accountUrl: double.url, credential: tokenCredential(OWNER) }, ['media', 'exports']);
    const reads = double.requests.slice(before).filter((r) => r.query.restype === 'container');
    expect(reads.map((r) => r.path.split('/')[0]).sort()).toEqual(['exports', 'media']);
    expect(reads.every((r) => r.headers?.authorization === `Bearer ${OWNER}`)).toBe(true);

    const refused = await ensureContainers({ accountUrl: double.url, credential: tokenCredential('a-token-the-account-does-not-know') }, ['media']).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(refused?.message).toMatch(/^AZURE_STORAGE_ACCOUNT_URL: could not create or reach container "media" at https:\/\/.*\(401 /);
    expect(refused?.message).not.toContain('\n');
  });
});
