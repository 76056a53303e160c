/**
 * Issue 36, items 10 and 11: Microsoft Entra ID instead of a connection string, the worker's
 * start-up probe of version deletion, accounts that disallow Shared Key, and accounts with a
 * hierarchical namespace, against the HTTP double of Azure Blob (test/support/azure-double.ts),
 * which answers as Microsoft's documentation says:
 * - "Prevent Shared Key authorization" (learn.microsoft.com/azure/storage/common/
 *   shared-key-authorization-prevent): with AllowSharedKeyAccess=false every key-signed request
 *   is 403 `KeyBasedAuthenticationNotPermitted`.
 * - "Blob versioning" (learn.microsoft.com/azure/storage/blobs/versioning-overview): deleting a
 *   previous version needs `…/blobs/deleteBlobVersion/action` (Storage Blob Data Owner; SAS `x`);
 *   accounts with a hierarchical namespace are not supported.
 * - "Get Account Information" (learn.microsoft.com/rest/api/storageservices/get-account-information):
 *   `x-ms-is-hns-enabled`.
 * Entra itself cannot be reached from here: a TokenCredential object stands in for
 * DefaultAzureCredential (which production wiring constructs), and the double accepts its bearer
 * token over HTTPS (the SDK sends tokens over HTTPS only), with a test CA trusted in this process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { TokenCredential } from '@azure/identity';
import { createBlobStore, PROBE_PREFIX, type BlobStore } from '../../stores/blobs';
import { createMediaActivities, readMedia, accountPrefix } from '../../activities/deletion/media';
import { BlobAccessError, checkBlobRetention } from '../../worker/blob-retention';
import { blobStoreFor } from '../../worker/deps';
import { loadConfig, ConfigError } from '../../config';
import { startAzureDouble, type AzureDouble, type AccountSettings, type DataRole } from '../support/azure-double';
import { makeCerts, type TestCerts } from '../secure/certs';

const CONTAINERS = ['media', 'exports'];
const OWNER = 'token-of-a-storage-blob-data-owner';
const CONTRIBUTOR = 'token-of-a-storage-blob-data-contributor';
const PRINCIPALS: Record<string, DataRole> = { [OWNER]: 'Storage Blob Data Owner', [CONTRIBUTOR]: 'Storage Blob Data Contributor' };

/** What DefaultAzureCredential would return after signing in: a bearer token for storage. */
const tokenCredential = (token: string): TokenCredential => ({ getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) });

let certs: TestCerts;
let dir: string;
let double: AzureDouble | undefined;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-entra-'));
  certs = makeCerts(dir);
  // The SDK's HTTP client uses the default trust store: add the test CA to it, in this process only.
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), fs.readFileSync(certs.ca, 'utf8')]);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await double?.close();
  double = undefined;
});

async function start(settings: AccountSettings, opts: { https?: boolean } = {}): Promise<AzureDouble> {
  double = await startAzureDouble(settings, CONTAINERS, opts.https ? { tls: { cert: fs.readFileSync(certs.serverCert, 'utf8'), key: fs.readFileSync(certs.serverKey, 'utf8') } } : {});
  return double;
}

/** The worker's wiring (config → worker/deps.ts) with AZURE_STORAGE_ACCOUNT_URL, a test credential in place of DefaultAzureCredential. */
function entraStore(d: AzureDouble, token: string): BlobStore {
  const config = loadConfig({ AZURE_STORAGE_ACCOUNT_URL: d.url });
  return blobStoreFor(config.blob, () => tokenCredential(token));
}

async function startupError(blobs: BlobStore): Promise<BlobAccessError> {
  try {
    await checkBlobRetention(blobs, { deadlineHours: 72 });
  } catch (err) {
    if (err instanceof BlobAccessError) return err;
    throw err;
  }
  throw new Error('expected the start-up check to refuse the account');
}

describe('blob account access at worker start (issue 36 items 10 and 11, HTTP double per Microsoft docs)', () => {
  test('Shared Key disallowed (AllowSharedKeyAccess=false): the connection string is refused at start in one line naming KeyBasedAuthenticationNotPermitted and what to set instead', async () => {
    const d = await start({ allowSharedKeyAccess: false, versioning: true });
    const blobs = createBlobStore(d.connectionString, CONTAINERS, { retryOptions: { maxTries: 1 } });
    const err = await startupError(blobs);
    // worker/main.ts prints a ConfigError's message alone: this is the worker's last line.
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).not.toContain('\n');
    expect(err.message).toMatch(
      /^AZURE_STORAGE_CONNECTION_STRING: the storage account disallows Shared Key authorization \(AllowSharedKeyAccess=false: Get Account Information answered 403 KeyBasedAuthenticationNotPermitted\); .*set AZURE_STORAGE_ACCOUNT_URL .*Microsoft Entra ID.*Storage Blob Data Owner/,
    );
    expect(err.check.problem).toBe('shared-key-disabled');
    // A deletion's own reads name the cause too, not a bare 403.
    await expect(blobs.countPrefix('media', accountPrefix(randomUUID()))).rejects.toThrow(/403 KeyBasedAuthenticationNotPermitted: the account disallows Shared Key authorization/);
  });

  test('Shared Key disallowed, SAS connection strings: a SAS signed with the account key is refused at start naming KeyBasedAuthenticationNotPermitted; a user delegation SAS (skoid) passes the probe', async () => {
    const d = await start({ allowSharedKeyAccess: false, versioning: true });
    const sas = (extra: string) => `BlobEndpoint=${d.url};SharedAccessSignature=sv=2025-01-05&ss=b&srt=sco&sp=rwdxlc&se=2030-01-01T00%3A00%3A00Z${extra}&sig=not-verified`;
    const keySigned = createBlobStore(sas(''), CONTAINERS, { retryOptions: { maxTries: 1 } });
    expect(keySigned.auth).toBe('sas');
    const err = await startupError(keySigned);
    expect(err.message).toMatch(
      /^AZURE_STORAGE_CONNECTION_STRING: the storage account disallows Shared Key authorization \(AllowSharedKeyAccess=false: Get Account Information answered 403 KeyBasedAuthenticationNotPermitted\)/,
    );
    // "Prevent Shared Key authorization": a user delegation SAS is authorized with Microsoft Entra ID and permitted.
    const delegated = createBlobStore(sas('&skoid=00000000-0000-0000-0000-000000000001&sktid=00000000-0000-0000-0000-000000000002'), CONTAINERS, { retryOptions: { maxTries: 1 } });
    const check = await checkBlobRetention(delegated, { deadlineHours: 72 });
    expect(check.access).toMatchObject({ ok: true, versioning: true });
    expect(check.access!.message).toMatch(/^blob account signed in with a SAS: /);
  });

  test('Entra ID (a token credential, Storage Blob Data Owner) on an account without Shared Key: the probe deletes a previous version, and a deletion of blobs and their versions verifies clean, every request a bearer token', async () => {
    const d = await start({ allowSharedKeyAccess: false, versioning: true, principals: PRINCIPALS }, { https: true });
    const blobs = entraStore(d, OWNER);
    expect(blobs.auth).toBe('entra');

    const check = await checkBlobRetention(blobs, { deadlineHours: 72 });
    expect(check.access).toMatchObject({ ok: true, versioning: true, hierarchicalNamespace: false });
    expect(check.access!.message).toMatch(/^blob account signed in with Microsoft Entra ID: a probe blob was written and deleted, its previous version too \(versioning on\)/);
    // The probe wrote, deleted the base, then deleted the version by its id, and left nothing.
    const probe = d.requests.filter((r) => r.path.startsWith(`media/${PROBE_PREFIX}`));
    expect(probe.map((r) => `${r.method}${r.query.versionid ? ' versionid' : ''}`)).toEqual(['PUT', 'DELETE', 'DELETE versionid']);
    expect(d.all('media', PROBE_PREFIX)).toEqual([]);

    const id = randomUUID();
    const prefix = accountPrefix(id);
    d.put('media', `${prefix}a.jpg`);
    d.put('media', `${prefix}a.jpg`); // a second write: the first becomes a previous version
    d.put('exports', `${prefix}export.zip`);
    const bystander = `accounts/${randomUUID()}/a.jpg`;
    d.put('media', bystander);

    const acts = createMediaActivities({ blobs });
    const counts = (await new MockActivityEnvironment().run(acts.deleteMediaBlobs, id)) as Awaited<ReturnType<typeof acts.deleteMediaBlobs>>;
    expect(counts.blobsDeleted).toBeGreaterThanOrEqual(3);
    const reading = await readMedia(blobs, id);
    expect(reading.remaining).toEqual({ blobs: 0, softDeleted: 0 });
    expect(d.all('media', prefix)).toEqual([]);
    expect(d.all('exports', prefix)).toEqual([]);
    expect(d.all('media', bystander)).toHaveLength(1);

    // Every request, and every Blob Batch sub-request, carried the token; none the account key.
    const auths = d.requests.map((r) => r.headers?.authorization ?? '');
    expect(auths.length).toBeGreaterThan(5);
    expect(auths.every((a) => a === `Bearer ${OWNER}`)).toBe(true);
    expect(d.requests.some((r) => (r.sub ?? []).some((s) => s.includes('versionid=')))).toBe(true);
  });

  test('Entra ID with Storage Blob Data Contributor (no deleteBlobVersion/action): refused at start in one line naming the data action and the role', async () => {
    const d = await start({ allowSharedKeyAccess: false, versioning: true, principals: PRINCIPALS }, { https: true });
    const err = await startupError(entraStore(d, CONTRIBUTOR));
    expect(err.message).not.toContain('\n');
    expect(err.message).toMatch(
      /^AZURE_STORAGE_ACCOUNT_URL: cannot delete previous blob versions: deleting a previous version of the probe blob media\/lethe-probe\/[0-9a-f-]+: access denied \(403 AuthorizationPermissionMismatch\) \(signed with Microsoft Entra ID\): assign the worker's identity Microsoft\.Storage\/storageAccounts\/blobServices\/containers\/blobs\/deleteBlobVersion\/action on the account .*Storage Blob Data Owner/,
    );
    expect(err.check).toMatchObject({ ok: false, problem: 'cannot-delete-version', versioning: true });
  });

  test('hierarchical namespace (Data Lake Storage Gen2, x-ms-is-hns-enabled: true): refused at start in one line, before the probe writes anything', async () => {
    const d = await start({ hierarchicalNamespace: true, softDelete: { days: 1 } });
    const err = await startupError(createBlobStore(d.connectionString, CONTAINERS, { retryOptions: { maxTries: 1 } }));
    expect(err.message).not.toContain('\n');
    expect(err.message).toMatch(
      /^AZURE_STORAGE_CONNECTION_STRING: the storage account has a hierarchical namespace \(Data Lake Storage Gen2, x-ms-is-hns-enabled: true\), which does not support blob versioning/,
    );
    expect(err.check).toMatchObject({ problem: 'hierarchical-namespace', hierarchicalNamespace: true });
    expect(d.requests.filter((r) => r.method === 'PUT')).toEqual([]);
  });

  test('configuration: AZURE_STORAGE_ACCOUNT_URL is used only without a connection string, HTTPS only, and satisfies production', () => {
    const url = 'https://lethe.blob.core.windows.net/';
    expect(loadConfig({ AZURE_STORAGE_ACCOUNT_URL: url }).blob).toMatchObject({ accountUrl: 'https://lethe.blob.core.windows.net', connectionString: '', embedded: false });
    const conn = 'DefaultEndpointsProtocol=https;AccountName=prod;AccountKey=abc;EndpointSuffix=core.windows.net';
    const both = loadConfig({ AZURE_STORAGE_ACCOUNT_URL: url, AZURE_STORAGE_CONNECTION_STRING: conn }).blob;
    expect(both.connectionString).toBe(conn);
    expect(both.accountUrl).toBeUndefined();
    expect(() => loadConfig({ AZURE_STORAGE_ACCOUNT_URL: 'http://lethe.blob.core.windows.net' })).toThrow(/^AZURE_STORAGE_ACCOUNT_URL: expected a https: URL/);
    // The embedded default is untouched: Azurite by connection string.
    expect(loadConfig({}).blob).toMatchObject({ embedded: true, connectionString: expect.stringContaining('devstoreaccount1') });
    expect(blobStoreFor(loadConfig({ AZURE_STORAGE_ACCOUNT_URL: url }).blob, () => tokenCredential('x')).auth).toBe('entra');

    const prod = {
      LETHE_MODE: 'production',
      LETHE_API_TOKENS: 'a-long-enough-production-token',
      DATABASE_URL: 'postgres://u:p@db:5432/app',
      AUTH0_DOMAIN: 'tenant.eu.auth0.com',
      AUTH0_CLIENT_ID: 'id',
      AUTH0_CLIENT_SECRET: 'secret',
      RECURLY_API_KEY: 'key',
      LETHE_ENCRYPTION_KEYS: `prod-1:${Buffer.alloc(32, 7).toString('base64')}`,
      SMTP_URL: 'smtps://mail.example.com',
      LETHE_PUBLIC_URL: 'https://lethe.example.com',
    };
    expect(() => loadConfig(prod)).toThrow(/^AZURE_STORAGE_CONNECTION_STRING: is required in production mode .*AZURE_STORAGE_ACCOUNT_URL/);
    expect(loadConfig({ ...prod, AZURE_STORAGE_ACCOUNT_URL: url }).blob.accountUrl).toBe('https://lethe.blob.core.windows.net');
  });
});
