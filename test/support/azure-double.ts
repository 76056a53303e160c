/**
 * An HTTP double of Azure Blob Storage for what Azurite does not implement: blob soft delete,
 * versioning, permanent delete, legal holds, immutability policies and throttling. It answers as
 * Azure's Blob REST documentation says (learn.microsoft.com/rest/api/storageservices), not as
 * Lethe would like:
 * - List Blobs: `EnumerationResults` XML; `include=snapshots|versions|deleted` adds snapshots,
 *   previous versions and soft-deleted items (`<Deleted>true</Deleted>`, `DeletedTime`,
 *   `RemainingRetentionDays`); `VersionId`/`IsCurrentVersion` on every version when versioning
 *   is on; `ImmutabilityPolicyUntilDate` and `LegalHold` with `include=immutabilitypolicy|legalhold`;
 *   `maxresults` and `NextMarker`.
 * - Delete Blob: base blob, `snapshot=`, `versionid=`; 409 `SnapshotsPresent` without
 *   `x-ms-delete-snapshots`; with versioning the current version becomes a previous version; with
 *   soft delete the deleted item is kept, marked deleted; `deletetype=permanent` removes a
 *   soft-deleted snapshot or version, and answers 409 when permanent delete is off, when neither
 *   `snapshot` nor `versionid` is given, or when the item is not soft-deleted; 412
 *   `LeaseIdMissing` on a leased blob without `x-ms-lease-id`; 409 `BlobImmutableDueToLegalHold`
 *   and `BlobImmutableDueToPolicy`; 404 `BlobNotFound`.
 * - Blob Batch: `POST ?restype=container&comp=batch`, multipart/mixed request and a 202 whose
 *   multipart/mixed body has one `application/http` part per sub-request, matched by `Content-ID`.
 * - Lease Blob: `PUT ?comp=lease` with `x-ms-lease-action: break` (break period 0: broken at once).
 * - Get Blob Service Properties: `StorageServiceProperties` with `DeleteRetentionPolicy`
 *   (`Enabled`, `Days`, `AllowPermanentDelete`).
 * - Errors: the status, `x-ms-error-code` and an `<Error><Code>…</Code></Error>` body, e.g. 503 `ServerBusy`.
 * - Put Blob (`PUT`, `x-ms-blob-type: BlockBlob`): 201, with `x-ms-version-id` when versioning is on
 *   (the start-up probe writes a blob of its own).
 * - Get Account Information (`?restype=account&comp=properties`, learn.microsoft.com/rest/api/
 *   storageservices/get-account-information): `x-ms-sku-name`, `x-ms-account-kind` and, from
 *   version 2019-07-07, `x-ms-is-hns-enabled`.
 * - Hierarchical namespace (`hierarchicalNamespace`, Data Lake Storage Gen2): "Storage accounts
 *   with a hierarchical namespace enabled for use with Azure Data Lake Storage Gen2 are not
 *   currently supported" by blob versioning (learn.microsoft.com/azure/storage/blobs/
 *   versioning-overview), so such an account cannot also have `versioning`.
 * Authorization (signatures are not verified, only the scheme and who signs):
 * - `SharedKey` (and a service or account SAS, signed with the account key too; a user
 *   delegation SAS, `skoid`, is signed with an Entra-issued key and is not): every permission, unless
 *   `allowSharedKeyAccess` is false, when "making a request to the storage account with Shared Key
 *   authorization will fail with error code 403 (Forbidden)", `KeyBasedAuthenticationNotPermitted`
 *   (learn.microsoft.com/azure/storage/common/shared-key-authorization-prevent).
 * - `Bearer <token>` (Microsoft Entra ID, learn.microsoft.com/azure/storage/blobs/
 *   authorize-access-azure-active-directory): a token listed in `principals`, with the data actions
 *   of its built-in role; another token is 401 `InvalidAuthenticationInfo`. Per the versioning
 *   doc's "Azure RBAC action to delete a blob version", deleting a previous version (`versionid`)
 *   needs `…/blobs/deleteBlobVersion/action`, which Storage Blob Data Owner has and Storage Blob
 *   Data Contributor lacks; a missing data action is 403 `AuthorizationPermissionMismatch`.
 *   Blob Batch sub-requests are authorized one by one.
 * - No `Authorization` and no SAS: accepted, as before (anonymous access is not modelled).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export const DOUBLE_ACCOUNT = 'lethedouble';
const KEY = Buffer.from('not-a-real-key-for-the-azure-double').toString('base64');
const DAY_MS = 86_400_000;

export interface DoubleEntry {
  container: string;
  name: string;
  snapshot?: string;
  versionId?: string;
  /** A version that is the current one (the base blob, when versioning is on). */
  current?: boolean;
  deleted?: boolean;
  deletedOn?: Date;
}

export interface BlobAttributes {
  leased?: boolean;
  legalHold?: boolean;
  immutableUntil?: Date;
}

export interface AccountSettings {
  softDelete?: { days: number; allowPermanentDelete?: boolean };
  versioning?: boolean;
  /** `AllowSharedKeyAccess` (unset: allowed). False: every Shared Key or key-signed SAS request is 403 `KeyBasedAuthenticationNotPermitted`. */
  allowSharedKeyAccess?: boolean;
  /** Microsoft Entra bearer tokens the account accepts, each with its role assignment. */
  principals?: Record<string, DataRole>;
  /** Data Lake Storage Gen2 (`x-ms-is-hns-enabled: true`); excludes `versioning`. */
  hierarchicalNamespace?: boolean;
}

/** The built-in data roles (learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage). */
export type DataRole = 'Storage Blob Data Owner' | 'Storage Blob Data Contributor' | 'Storage Blob Data Reader';
type DataAction = 'read' | 'write' | 'delete' | 'deleteBlobVersion' | 'permanentDelete';
const ROLE_ACTIONS: Record<DataRole, DataAction[]> = {
  'Storage Blob Data Owner': ['read', 'write', 'delete', 'deleteBlobVersion', 'permanentDelete'],
  'Storage Blob Data Contributor': ['read', 'write', 'delete'],
  'Storage Blob Data Reader': ['read'],
};

export interface DoubleOptions {
  /** Serve HTTPS with this certificate (PEM): the SDK sends a bearer token over HTTPS only. */
  tls?: { cert: string; key: string };
}

export interface Fault {
  op: 'list' | 'batch' | 'properties' | 'delete';
  status: number;
  code: string;
  times?: number;
  /** Lets this many matching requests through before the fault starts. */
  after?: number;
}

export interface RequestLog {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Batch sub-requests, as `METHOD /path?query`. */
  sub?: string[];
  headers?: Record<string, string>;
}

export interface AzureDouble {
  url: string;
  connectionString: string;
  settings: AccountSettings;
  entries: DoubleEntry[];
  attributes: Map<string, BlobAttributes>;
  requests: RequestLog[];
  /** Delays each listing by this much (a slow service). */
  listDelayMs: number;
  /** Puts a blob (and, with versioning, a new current version); returns its version id. */
  put(container: string, name: string): string | undefined;
  snapshot(container: string, name: string): string;
  attrs(container: string, name: string): BlobAttributes;
  fail(f: Fault): void;
  /** What a listing with every include would show under `prefix`, deleted items included. */
  all(container: string, prefix: string): DoubleEntry[];
  close(): Promise<void>;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
let clock = Date.parse('2026-11-01T00:00:00Z');
/** Azure's version ids and snapshot times are DateTime values with 7 fractional digits. */
const stamp = () => new Date((clock += 1000)).toISOString().replace('Z', '0000Z');

function errorBody(code: string): string {
  return `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${code} (azure double)</Message></Error>`;
}

export async function startAzureDouble(settings: AccountSettings = {}, containers: string[] = ['media', 'exports'], options: DoubleOptions = {}): Promise<AzureDouble> {
  if (settings.hierarchicalNamespace && settings.versioning) throw new Error('azure double: blob versioning is not supported on an account with a hierarchical namespace');
  const entries: DoubleEntry[] = [];
  const attributes = new Map<string, BlobAttributes>();
  const faults: Fault[] = [];
  const requests: RequestLog[] = [];
  const key = (c: string, n: string) => `${c}/${n}`;
  const attrs = (c: string, n: string) => {
    let a = attributes.get(key(c, n));
    if (!a) attributes.set(key(c, n), (a = {}));
    return a;
  };

  const double: AzureDouble = {
    url: '',
    connectionString: '',
    settings,
    entries,
    attributes,
    requests,
    listDelayMs: 0,
    put(container, name) {
      if (settings.versioning) {
        for (const e of entries) if (e.container === container && e.name === name && e.current) e.current = false;
        const versionId = stamp();
        entries.push({ container, name, versionId, current: true });
        return versionId;
      }
      if (!entries.some((e) => e.container === container && e.name === name && !e.snapshot && !e.versionId && !e.deleted)) entries.push({ container, name });
      return undefined;
    },
    snapshot(container, name) {
      const snapshot = stamp();
      entries.push({ container, name, snapshot });
      return snapshot;
    },
    attrs,
    fail(f) {
      faults.push({ times: 1, ...f });
    },
    all(container, prefix) {
      return entries.filter((e) => e.container === container && e.name.startsWith(prefix));
    },
    close: () => new Promise((r) => server.close(() => r())),
  };

  function fault(op: Fault['op']): Fault | undefined {
    const f = faults.find((x) => x.op === op && (x.times ?? 1) > 0);
    if (f && (f.after ?? 0) > 0) {
      f.after!--;
      return undefined;
    }
    if (f) f.times = (f.times ?? 1) - 1;
    return f;
  }

  const isBase = (e: DoubleEntry) => !e.snapshot && (!e.versionId || !!e.current);
  const removeOrSoftDelete = (e: DoubleEntry) => {
    if (settings.softDelete) {
      e.deleted = true;
      e.deletedOn = new Date();
      e.current = false;
    } else entries.splice(entries.indexOf(e), 1);
  };

  /**
   * Who signed the request, and whether that identity may do `action`: undefined when it may,
   * else the status and error code Azure answers.
   */
  function denied(h: Record<string, string>, q: Record<string, string>, action: DataAction): { status: number; code: string } | undefined {
    const auth = h['authorization'] ?? '';
    // A user delegation SAS (`skoid`, signed with a key Entra issued) is not key-based.
    if (/^SharedKey(Lite)? /i.test(auth) || (!auth && q.sig && !q.skoid)) {
      return settings.allowSharedKeyAccess === false ? { status: 403, code: 'KeyBasedAuthenticationNotPermitted' } : undefined;
    }
    if (/^Bearer /i.test(auth)) {
      const role = settings.principals?.[auth.slice('Bearer '.length).trim()];
      if (!role) return { status: 401, code: 'InvalidAuthenticationInfo' };
      return ROLE_ACTIONS[role].includes(action) ? undefined : { status: 403, code: 'AuthorizationPermissionMismatch' };
    }
    return undefined;
  }
  /** The data action a Delete Blob needs: a version by id needs `deleteBlobVersion/action`. */
  const deleteAction = (q: Record<string, string>): DataAction => (q.deletetype === 'permanent' ? 'permanentDelete' : q.versionid ? 'deleteBlobVersion' : 'delete');

  /** Delete Blob, as the REST docs describe it. Returns the status and error code. */
  function deleteBlob(container: string, name: string, q: Record<string, string>, h: Record<string, string>): { status: number; code?: string } {
    const a = attributes.get(key(container, name)) ?? {};
    const mine = entries.filter((e) => e.container === container && e.name === name);
    if (q.deletetype !== undefined) {
      // "If the query parameter presents any of the following, Blob Storage returns a 409 error":
      // permanent delete off, neither versionid nor snapshot, the item not soft-deleted.
      // The doc names no error code for these 409s; the double's codes are placeholders.
      if (q.deletetype !== 'permanent' || !settings.softDelete?.allowPermanentDelete) return { status: 409, code: 'PermanentDeleteNotAllowed' };
      if (!q.snapshot && !q.versionid) return { status: 409, code: 'PermanentDeleteNotAllowed' };
      const e = mine.find((x) => (q.snapshot ? x.snapshot === q.snapshot : x.versionId === q.versionid));
      if (!e) return { status: 404, code: 'BlobNotFound' };
      if (!e.deleted) return { status: 409, code: 'BlobNotSoftDeleted' };
      entries.splice(entries.indexOf(e), 1);
      return { status: 202 };
    }
    if (a.legalHold) return { status: 409, code: 'BlobImmutableDueToLegalHold' };
    if (a.immutableUntil && a.immutableUntil.getTime() > Date.now()) return { status: 409, code: 'BlobImmutableDueToPolicy' };
    if (q.snapshot || q.versionid) {
      const e = mine.find((x) => !x.deleted && (q.snapshot ? x.snapshot === q.snapshot : x.versionId === q.versionid));
      if (!e) return { status: 404, code: 'BlobNotFound' };
      removeOrSoftDelete(e);
      return { status: 202 };
    }
    const base = mine.find((x) => isBase(x) && !x.deleted);
    if (!base) return { status: 404, code: 'BlobNotFound' };
    if (a.leased && !h['x-ms-lease-id']) return { status: 412, code: 'LeaseIdMissing' };
    const snaps = mine.filter((x) => x.snapshot && !x.deleted);
    if (snaps.length && !h['x-ms-delete-snapshots']) return { status: 409, code: 'SnapshotsPresent' };
    for (const s of snaps) removeOrSoftDelete(s);
    if (h['x-ms-delete-snapshots'] === 'only') return { status: 202 };
    // Versioning: "the current version of the blob becomes a previous version".
    if (settings.versioning && base.versionId) base.current = false;
    else removeOrSoftDelete(base);
    return { status: 202 };
  }

  function listXml(container: string, q: Record<string, string>): string {
    const include = new Set((q.include ?? '').split(',').filter(Boolean));
    const prefix = q.prefix ?? '';
    const max = Math.min(Number(q.maxresults ?? 5000), 5000);
    const visible = entries
      .filter((e) => e.container === container && e.name.startsWith(prefix))
      .filter((e) => include.has('deleted') || !e.deleted)
      .filter((e) => include.has('snapshots') || !e.snapshot)
      .filter((e) => include.has('versions') || !e.versionId || e.current)
      .sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : (x.snapshot ?? x.versionId ?? '~') < (y.snapshot ?? y.versionId ?? '~') ? -1 : 1));
    const start = q.marker ? Number(q.marker) : 0;
    const page = visible.slice(start, start + max);
    const next = start + max < visible.length ? String(start + max) : '';
    const days = settings.softDelete?.days;
    const blobs = page
      .map((e) => {
        const a = attributes.get(key(container, e.name)) ?? {};
        const props = [
          `<Creation-Time>Sun, 01 Nov 2026 00:00:00 GMT</Creation-Time>`,
          `<Last-Modified>Sun, 01 Nov 2026 00:00:00 GMT</Last-Modified>`,
          `<Etag>0x8D${Buffer.from(e.name).length.toString(16).padStart(13, '0')}</Etag>`,
          `<Content-Length>1</Content-Length>`,
          `<Content-Type>image/jpeg</Content-Type>`,
          `<BlobType>BlockBlob</BlobType>`,
          `<LeaseStatus>${a.leased ? 'locked' : 'unlocked'}</LeaseStatus>`,
          `<LeaseState>${a.leased ? 'leased' : 'available'}</LeaseState>`,
          ...(a.leased ? ['<LeaseDuration>infinite</LeaseDuration>'] : []),
          ...(e.deleted && e.deletedOn
            ? [
                `<DeletedTime>${e.deletedOn.toUTCString()}</DeletedTime>`,
                `<RemainingRetentionDays>${Math.max(0, Math.ceil(((days ?? 0) * DAY_MS - (Date.now() - e.deletedOn.getTime())) / DAY_MS))}</RemainingRetentionDays>`,
              ]
            : []),
          ...(include.has('immutabilitypolicy') && a.immutableUntil
            ? [`<ImmutabilityPolicyUntilDate>${a.immutableUntil.toUTCString()}</ImmutabilityPolicyUntilDate>`, '<ImmutabilityPolicyMode>locked</ImmutabilityPolicyMode>']
            : []),
          ...(include.has('legalhold') && a.legalHold ? ['<LegalHold>true</LegalHold>'] : []),
        ].join('');
        return (
          `<Blob><Name>${xml(e.name)}</Name>` +
          (e.deleted ? '<Deleted>true</Deleted>' : '') +
          (e.snapshot ? `<Snapshot>${e.snapshot}</Snapshot>` : '') +
          (e.versionId ? `<VersionId>${e.versionId}</VersionId>${e.current ? '<IsCurrentVersion>true</IsCurrentVersion>' : ''}` : '') +
          `<Properties>${props}</Properties></Blob>`
        );
      })
      .join('');
    return (
      `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="${double.url}/" ContainerName="${container}">` +
      `<Prefix>${xml(prefix)}</Prefix>${q.marker ? `<Marker>${q.marker}</Marker>` : ''}<MaxResults>${max}</MaxResults>` +
      `<Blobs>${blobs}</Blobs><NextMarker>${next}</NextMarker></EnumerationResults>`
    );
  }

  function propertiesXml(): string {
    const sd = settings.softDelete;
    return (
      `<?xml version="1.0" encoding="utf-8"?><StorageServiceProperties>` +
      `<Logging><Version>1.0</Version><Delete>false</Delete><Read>false</Read><Write>false</Write><RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></Logging>` +
      `<HourMetrics><Version>1.0</Version><Enabled>false</Enabled><RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></HourMetrics>` +
      `<MinuteMetrics><Version>1.0</Version><Enabled>false</Enabled><RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></MinuteMetrics>` +
      `<Cors/>` +
      (sd
        ? `<DeleteRetentionPolicy><Enabled>true</Enabled><Days>${sd.days}</Days><AllowPermanentDelete>${!!sd.allowPermanentDelete}</AllowPermanentDelete></DeleteRetentionPolicy>`
        : `<DeleteRetentionPolicy><Enabled>false</Enabled><AllowPermanentDelete>false</AllowPermanentDelete></DeleteRetentionPolicy>`) +
      `<StaticWebsite><Enabled>false</Enabled></StaticWebsite></StorageServiceProperties>`
    );
  }

  /** `/lethedouble/media/accounts/x/y.jpg?versionid=…` → container, blob name, query. */
  function parsePath(raw: string): { container?: string; name?: string; query: Record<string, string> } {
    const u = new URL(raw, 'http://double');
    const query: Record<string, string> = {};
    u.searchParams.forEach((v, k) => (query[k.toLowerCase()] = v));
    const parts = u.pathname.split('/').slice(1).map(decodeURIComponent);
    if (parts[0] === DOUBLE_ACCOUNT) parts.shift();
    return { container: parts[0] || undefined, name: parts.slice(1).join('/') || undefined, query };
  }

  const send = (res: http.ServerResponse, status: number, body = '', headers: Record<string, string> = {}) => {
    res.writeHead(status, {
      'x-ms-request-id': `double-${requests.length}`,
      'x-ms-version': '2026-04-06',
      ...headers,
      ...(body ? { 'content-type': headers['content-type'] ?? 'application/xml', 'content-length': String(Buffer.byteLength(body)) } : { 'content-length': '0' }),
    });
    res.end(body);
  };
  const sendError = (res: http.ServerResponse, status: number, code: string) => send(res, status, errorBody(code), { 'x-ms-error-code': code });

  const listener: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => void handle());
    const handle = async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const { container, name, query } = parsePath(req.url ?? '/');
      const h = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
      const log: RequestLog = { method: req.method ?? '', path: `${container ?? ''}/${name ?? ''}`, query, headers: h };
      requests.push(log);
      try {
        const action: DataAction = req.method === 'DELETE' ? deleteAction(query) : req.method === 'PUT' ? 'write' : 'read';
        // Blob Batch: the sub-requests carry their own authorization, checked one by one.
        const refused = denied(h, query, query.comp === 'batch' ? 'read' : action);
        if (refused) return sendError(res, refused.status, refused.code);
        if (query.restype === 'account' && query.comp === 'properties' && (req.method === 'GET' || req.method === 'HEAD')) {
          return send(res, 200, '', {
            'x-ms-sku-name': 'Standard_LRS',
            'x-ms-account-kind': 'StorageV2',
            'x-ms-is-hns-enabled': String(!!settings.hierarchicalNamespace),
          });
        }
        if (!container && query.restype === 'service' && query.comp === 'properties') {
          const f = fault('properties');
          if (f) return sendError(res, f.status, f.code);
          return send(res, 200, propertiesXml());
        }
        if (container && !name && query.restype === 'container' && query.comp === 'list') {
          if (double.listDelayMs) await new Promise((r) => setTimeout(r, double.listDelayMs));
          const f = fault('list');
          if (f) return sendError(res, f.status, f.code);
          return send(res, 200, listXml(container, query));
        }
        if (container && !name && query.restype === 'container' && !query.comp) {
          if (!containers.includes(container)) return sendError(res, 404, 'ContainerNotFound');
          return send(res, 200, '', { etag: '"0x1"', 'last-modified': 'Sun, 01 Nov 2026 00:00:00 GMT' });
        }
        if (container && !name && req.method === 'POST' && query.comp === 'batch') {
          const f = fault('batch');
          if (f) return sendError(res, f.status, f.code);
          return batch(res, h['content-type'] ?? '', body, log);
        }
        if (container && name && req.method === 'PUT' && query.comp === 'lease') {
          if (h['x-ms-lease-action'] !== 'break') return sendError(res, 400, 'InvalidHeaderValue');
          const a = attrs(container, name);
          if (!a.leased) return sendError(res, 409, 'LeaseNotPresentWithLeaseOperation');
          a.leased = false;
          return send(res, 202, '', { 'x-ms-lease-time': '0', etag: '"0x1"', 'last-modified': 'Sun, 01 Nov 2026 00:00:00 GMT' });
        }
        if (container && name && req.method === 'PUT' && !query.comp) {
          if (!containers.includes(container)) return sendError(res, 404, 'ContainerNotFound');
          if ((h['x-ms-blob-type'] ?? '') !== 'BlockBlob') return sendError(res, 400, 'InvalidHeaderValue');
          const versionId = double.put(container, name);
          return send(res, 201, '', {
            etag: '"0x1"',
            'last-modified': 'Sun, 01 Nov 2026 00:00:00 GMT',
            'x-ms-request-server-encrypted': 'true',
            ...(versionId ? { 'x-ms-version-id': versionId } : {}),
          });
        }
        if (container && name && req.method === 'DELETE') {
          const f = fault('delete');
          if (f) return sendError(res, f.status, f.code);
          const r = deleteBlob(container, name, query, h);
          return r.code ? sendError(res, r.status, r.code) : send(res, r.status, '', { 'x-ms-delete-type-permanent': String(query.deletetype === 'permanent') });
        }
        return sendError(res, 400, 'UnsupportedHttpVerb');
      } catch (err) {
        return sendError(res, 500, `InternalError ${(err as Error).message}`.slice(0, 60));
      }
    };
  };
  const server = options.tls ? https.createServer(options.tls, listener) : http.createServer(listener);

  /** Blob Batch: the request's multipart/mixed parts, each an HTTP request; the answer likewise. */
  function batch(res: http.ServerResponse, contentType: string, body: string, log: RequestLog) {
    const boundary = /boundary=([^;]+)/.exec(contentType)?.[1];
    if (!boundary) return sendError(res, 400, 'InvalidInput');
    const parts = body
      .split(`--${boundary}`)
      .slice(1)
      .filter((p) => !p.startsWith('--'));
    if (parts.length > 256) return sendError(res, 400, 'ExceedsMaxBatchRequestCount');
    const out = `batchresponse_${Math.random().toString(16).slice(2)}`;
    log.sub = [];
    const answers = parts.map((part) => {
      const lines = part.split('\r\n');
      const contentId =
        lines
          .find((l) => /^Content-ID:/i.test(l))
          ?.split(':')[1]
          .trim() ?? '0';
      const at = lines.findIndex((l) => /^[A-Z]+ \S+ HTTP\/1\.1$/.test(l));
      const [method, target] = lines[at].split(' ');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(at + 1)) {
        if (!l.trim()) break;
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      log.sub!.push(`${method} ${target}`);
      const p = parsePath(target);
      const r =
        method === 'DELETE' && p.container && p.name
          ? (denied(headers, p.query, deleteAction(p.query)) ?? deleteBlob(p.container, p.name, p.query, headers))
          : { status: 400, code: 'UnsupportedHttpVerb' };
      const head = `--${out}\r\nContent-Type: application/http\r\nContent-ID: ${contentId}\r\n\r\n`;
      return r.code
        ? `${head}HTTP/1.1 ${r.status} ${r.code}\r\nx-ms-error-code: ${r.code}\r\nx-ms-request-id: sub-${contentId}\r\nx-ms-version: 2026-04-06\r\nContent-Type: application/xml\r\n\r\n${errorBody(r.code)}\r\n`
        : `${head}HTTP/1.1 ${r.status} Accepted\r\nx-ms-delete-type-permanent: ${p.query.deletetype === 'permanent'}\r\nx-ms-request-id: sub-${contentId}\r\nx-ms-version: 2026-04-06\r\n\r\n`;
    });
    return send(res, 202, `${answers.join('')}--${out}--\r\n`, { 'content-type': `multipart/mixed; boundary=${out}` });
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const scheme = options.tls ? 'https' : 'http';
  double.url = `${scheme}://127.0.0.1:${port}/${DOUBLE_ACCOUNT}`;
  double.connectionString = `DefaultEndpointsProtocol=${scheme};AccountName=${DOUBLE_ACCOUNT};AccountKey=${KEY};BlobEndpoint=${double.url};`;
  return double;
}
