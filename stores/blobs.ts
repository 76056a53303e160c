/**
 * Azure Blob Storage: the one module that knows the SDK. It speaks of "everything under a
 * prefix", including snapshots, previous versions and soft-deleted blobs, so callers never
 * handle single blobs.
 *
 * The specification is Azure's Blob REST documentation (learn.microsoft.com/rest/api/storageservices):
 * - List Blobs (`include=snapshots,versions,deleted,immutabilitypolicy,legalhold`): every copy
 *   under a prefix, with `Deleted`, `DeletedTime`, `RemainingRetentionDays`, `VersionId`,
 *   `IsCurrentVersion`, `ImmutabilityPolicyUntilDate` and `LegalHold` per item.
 * - Delete Blob (`snapshot`, `versionid`, `x-ms-delete-snapshots: include`, `deletetype=permanent`):
 *   "Storage accounts with permanent delete enabled can use the deletetype=permanent query
 *   parameter to permanently delete a soft-deleted snapshot or deleted blob version"; a soft-deleted
 *   base blob cannot be purged, Azure removes it when the retention period ends. With versioning,
 *   deleting the base blob turns the current version into a previous version, which is then
 *   deleted by its `versionid`.
 * - Blob Batch (`comp=batch`, multipart/mixed, at most 256 sub-requests, one status per sub-request).
 * - Get Blob Service Properties (`restype=service&comp=properties`): `DeleteRetentionPolicy`
 *   (`Enabled`, `Days` 1–365, `AllowPermanentDelete`).
 * - Lease Blob (`comp=lease`, `x-ms-lease-action: break`, `x-ms-lease-break-period: 0`): a leased
 *   blob answers Delete Blob with 412 `LeaseIdMissing`; a broken lease no longer protects it.
 * - Blob Storage error codes: 409 `BlobImmutableDueToPolicy` / `BlobImmutableDueToLegalHold`
 *   (only a person can lift them), 409 `SnapshotsPresent`, 404 `BlobNotFound`, 503 `ServerBusy`.
 * - Get Account Information (`restype=account&comp=properties`, learn.microsoft.com/rest/api/
 *   storageservices/get-account-information): `x-ms-is-hns-enabled` (version 2019-07-07 and later).
 *
 * Two ways in: a connection string (Shared Key or SAS; Azurite's), or an account URL with a
 * Microsoft Entra token credential (`DefaultAzureCredential` in production; "Authorize access to
 * blobs using Microsoft Entra ID", learn.microsoft.com/azure/storage/blobs/
 * authorize-access-azure-active-directory). An account with `AllowSharedKeyAccess=false` answers
 * every key-signed request 403 `KeyBasedAuthenticationNotPermitted` ("Prevent Shared Key
 * authorization", learn.microsoft.com/azure/storage/common/shared-key-authorization-prevent).
 */
import { randomUUID } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import { BlobBatchClient, BlobClient, BlobItem, BlobServiceClient, ContainerClient, RestError, type StoragePipelineOptions } from '@azure/storage-blob';

export interface BlobStore {
  readonly service: BlobServiceClient;
  readonly containers: string[];
  /** The embedded stack's emulator (Azurite): the only place the listing may fall back to less. */
  readonly emulator: boolean;
  /** How requests are authorized: the account key (`shared-key`), a SAS, or a Microsoft Entra token (`entra`). */
  readonly auth: BlobAuth;
  /**
   * The start-up check of the account: not a hierarchical namespace, and the credential can
   * write, delete and delete a previous version of a probe blob of Lethe's own. Never throws.
   */
  checkAccess(): Promise<BlobAccessCheck>;
  container(name: string): ContainerClient;
  /** Fails unless every configured container is reachable. */
  ping(): Promise<void>;
  /** Deletes every blob, snapshot and version under `prefix` in `container`, page by page. */
  deletePrefix(container: string, prefix: string, opts: DeletePrefixOptions): Promise<DeletePrefixResult>;
  /** Counts what is left under `prefix` (verification reads this). */
  countPrefix(container: string, prefix: string): Promise<PrefixCount>;
  /** The account's blob soft-delete policy (Get Blob Service Properties), cached for a few minutes. */
  softDeletePolicy(): Promise<SoftDeletePolicy>;
}

export type BlobAuth = 'shared-key' | 'sas' | 'entra';

/** Where the account is and how to sign in: a connection string, or an account URL and a token credential. */
export type BlobAccount = { connectionString: string } | { accountUrl: string; credential: TokenCredential };

export interface BlobAccessCheck {
  ok: boolean;
  /** Why not: the first thing found missing. */
  problem?: 'shared-key-disabled' | 'hierarchical-namespace' | 'cannot-write' | 'cannot-delete' | 'cannot-delete-version' | 'unauthorized' | 'unavailable';
  /** Get Account Information's `x-ms-is-hns-enabled` (undefined: not readable with this credential). */
  hierarchicalNamespace?: boolean;
  /** Whether writing the probe created a version (`x-ms-version-id`): versioning is on. */
  versioning?: boolean;
  /** One line: what was checked, or what is missing and what to do. */
  message: string;
}

/** The data action a previous version's deletion needs ("Blob versioning", Azure RBAC action to delete a blob version). */
export const DELETE_VERSION_ACTION = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/deleteBlobVersion/action';
/** Where the start-up probe writes: a prefix of Lethe's own, outside every `accounts/{id}/`. */
export const PROBE_PREFIX = 'lethe-probe/';

export interface SoftDeletePolicy {
  /** False when the service properties could not be read (e.g. a container-scoped SAS). */
  known: boolean;
  enabled: boolean;
  /** Retention in days (1–365) while enabled. */
  days?: number;
  /** `AllowPermanentDelete`: soft-deleted snapshots and versions may be purged with `deletetype=permanent`. */
  allowPermanentDelete: boolean;
  /** Why the policy is unknown. */
  error?: string;
}

export interface DeletePrefixOptions {
  /** Where a previous attempt stopped: the listing continuation token of the page to redo. */
  resumeToken?: string;
  /** Called after each page is deleted, with the token that lists the next one (counts are in `progress`). */
  onPage?: (page: { nextToken?: string }) => void | Promise<void>;
  /**
   * Counted into as each sub-request succeeds, inside a page too. An attempt that fails halfway
   * through a page has deleted part of it; its retry lists that page again and finds only the
   * rest, so what this object says is the only record of the first part.
   */
  progress?: DeleteProgress;
  pageSize?: number;
  /** Batches in flight at once. */
  concurrency?: number;
  /** Cancels the SDK's calls in flight (the activity's cancellation). */
  abortSignal?: AbortSignal;
}

/** Blobs a legal hold, an immutability policy or a lease taken again keeps: only a person can release them. */
export interface HeldSummary {
  blobs: number;
  legalHolds: number;
  immutabilityPolicies: number;
  /** Leased again right after Lethe broke the lease. */
  leases?: number;
  /** The latest `ImmutabilityPolicyUntilDate` among them, where the listing exposes it. */
  until?: string;
}

export interface DeleteProgress {
  deleted: number;
  purged: number;
  leasesBroken: number;
}

export interface DeletePrefixResult {
  deleted: number;
  listCalls: number;
  batchCalls: number;
  /** Soft-deleted snapshots and versions removed for good (`deletetype=permanent`). */
  purged: number;
  /** Leases broken (Lease Blob `break`) so their blobs could be deleted. */
  leasesBroken: number;
  /** What was refused by a hold or an immutability policy (the rest was deleted). */
  held: HeldSummary;
}

export interface PrefixCount {
  blobs: number;
  snapshots: number;
  versions: number;
  /** Soft-deleted items of every kind (base blobs, snapshots, versions). */
  softDeleted: number;
  /** Of `softDeleted`, the snapshots and versions (purgeable where permanent delete is allowed). */
  softDeletedCopies: number;
  /** When Azure purges the last soft-deleted base blob (end of its retention). */
  softDeletedBlobsUntil?: string;
  /** When Azure purges the last soft-deleted snapshot or version. */
  softDeletedCopiesUntil?: string;
}

/** Blob Batch accepts at most 256 sub-requests. */
export const BATCH_LIMIT = 256;
const DAY_MS = 86_400_000;

export class BlobStoreError extends Error {
  constructor(
    /** `held`: a legal hold, an immutability policy or a lease keeps the blob (only a person can release it). */
    readonly type: 'unavailable' | 'invalid_input' | 'unauthorized' | 'held',
    message: string,
    readonly status?: number,
    readonly held?: HeldSummary,
  ) {
    super(message);
    this.name = 'BlobStoreError';
  }
}

/** Azurite's well-known development account (config/defaults.ts), or the SDK's shorthand for it. */
export function isEmulatorConnectionString(connectionString: string): boolean {
  return /AccountName=devstoreaccount1|UseDevelopmentStorage=true/i.test(connectionString);
}

/**
 * Azure's Blob error codes (REST docs, "Blob Storage error codes"): 409 `BlobImmutableDueToPolicy`
 * and `BlobImmutableDueToLegalHold` for immutability; 412 `LeaseIdMissing` and the
 * `LeaseIdMismatch…` family for a blob under a lease.
 */
function isHeld(status: number | undefined, code: string | undefined): boolean {
  return (status === 409 && /^BlobImmutable/.test(code ?? '')) || (status === 412 && /^LeaseId(Missing|Mismatch)/.test(code ?? ''));
}

/** "Prevent Shared Key authorization": the account refuses every request signed with its key. */
const SHARED_KEY_OFF = 'KeyBasedAuthenticationNotPermitted';

function classify(err: unknown, what: string): BlobStoreError {
  if (err instanceof BlobStoreError) return err;
  const status = err instanceof RestError ? err.statusCode : undefined;
  const code = (err as { code?: string })?.code ?? '';
  if (isHeld(status, code)) return new BlobStoreError('held', `${what}: refused (${status} ${code}: a hold, an immutability policy or a lease)`, status);
  if (status === 403 && code === SHARED_KEY_OFF) {
    return new BlobStoreError('unauthorized', `${what}: access denied (403 ${SHARED_KEY_OFF}: the account disallows Shared Key authorization; use Microsoft Entra ID)`, status);
  }
  if (status === 403 || status === 401) return new BlobStoreError('unauthorized', `${what}: access denied (${status}${code ? ` ${code}` : ''})`, status);
  if (status === 400) return new BlobStoreError('invalid_input', `${what}: rejected (${code || status})`, status);
  return new BlobStoreError('unavailable', `${what}: ${status ? `HTTP ${status}${code ? ` ${code}` : ''}` : code || (err as Error)?.message || 'failed'}`, status);
}

type Phase = 'live' | 'current' | 'purge';

interface Target {
  item: BlobItem;
  blob: BlobClient;
  /** Only bases that have snapshots: asking for it on every blob makes some services (Azurite)
   * look snapshots up per blob, several times slower. */
  withSnapshots: boolean;
  /** `deletetype=permanent`: purges a soft-deleted snapshot or version. */
  permanent: boolean;
}

const isBase = (i: BlobItem) => !i.snapshot && (!i.versionId || !!i.isCurrentVersion);

/**
 * What to delete for one listed page, in three phases (each after the previous one):
 * `live`: base blobs (with their snapshots), lone snapshots and previous versions;
 * `current`: the versions that were current when listed, by id (deleting the base made them
 * previous versions); `purge`: soft-deleted snapshots and versions, for good, where allowed.
 * Soft-deleted base blobs are not targets: nothing purges them before their retention ends.
 */
function targetsOf(items: BlobItem[], container: ContainerClient, phase: Phase): Target[] {
  const bases = new Set(items.filter((i) => isBase(i) && !i.deleted).map((i) => i.name));
  const hasSnapshots = new Set(items.filter((i) => i.snapshot && !i.deleted).map((i) => i.name));
  const targets: Target[] = [];
  for (const item of items) {
    const blob = container.getBlobClient(item.name);
    if (phase === 'purge') {
      if (item.snapshot) targets.push({ item, blob: blob.withSnapshot(item.snapshot), withSnapshots: false, permanent: true });
      else if (item.versionId) targets.push({ item, blob: blob.withVersion(item.versionId), withSnapshots: false, permanent: true });
      continue;
    }
    if (item.deleted) continue;
    if (phase === 'current') {
      if (!item.snapshot && item.versionId && item.isCurrentVersion) targets.push({ item, blob: blob.withVersion(item.versionId), withSnapshots: false, permanent: false });
    } else if (item.snapshot) {
      // Deleting the base with its snapshots already takes them.
      if (!bases.has(item.name)) targets.push({ item, blob: blob.withSnapshot(item.snapshot), withSnapshots: false, permanent: false });
    } else if (item.versionId && !item.isCurrentVersion) {
      targets.push({ item, blob: blob.withVersion(item.versionId), withSnapshots: false, permanent: false });
    } else {
      targets.push({ item, blob, withSnapshots: hasSnapshots.has(item.name), permanent: false });
    }
  }
  return targets;
}

async function runBounded<T>(tasks: (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  let failed = false;
  // After one task fails, no lane takes another, and the failure is thrown only once the tasks
  // in flight have settled: a lane that went on would delete blobs after the attempt has failed,
  // uncounted, while its retry may already be running.
  const lanes = Array.from({ length: Math.min(concurrency, tasks.length) }, async () => {
    while (next < tasks.length && !failed) {
      const i = next++;
      try {
        results[i] = await tasks[i]();
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  });
  const settled = await Promise.allSettled(lanes);
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return results;
}

/** Retention end of a soft-deleted item: `DeletedTime` plus the policy's days, else `RemainingRetentionDays` from now. */
function retentionEnd(item: BlobItem, days: number | undefined, now: number): number | undefined {
  const deletedOn = item.properties.deletedOn?.getTime();
  if (deletedOn !== undefined && days) return deletedOn + days * DAY_MS;
  const remaining = item.properties.remainingRetentionDays;
  return remaining !== undefined ? now + remaining * DAY_MS : undefined;
}

const later = (a: string | undefined, b: number | undefined): string | undefined => (b === undefined ? a : a === undefined || Date.parse(a) < b ? new Date(b).toISOString() : a);

export interface BlobStoreOptions {
  /**
   * The embedded stack's Azurite: a listing with versions and soft-deleted blobs that the service
   * rejects (400/501) is retried without them. Never on a real account, where it would let a
   * deletion and its verification miss copies and still say "clean".
   */
  emulator?: boolean;
  /** The SDK's retries (tests shorten them); by default two tries of at most 60 s each. */
  retryOptions?: StoragePipelineOptions['retryOptions'];
  /** How long the soft-delete policy read is reused. */
  policyTtlMs?: number;
}

/** `account`: a connection string (as a string, or `{ connectionString }`), or `{ accountUrl, credential }`. */
export function createBlobStore(account: string | BlobAccount, containers: string[], opts: BlobStoreOptions = {}): BlobStore {
  const emulator = opts.emulator ?? false;
  const source: BlobAccount = typeof account === 'string' ? { connectionString: account } : account;
  // Retries belong to Temporal (with backoff and a visible attempt count), not hidden here.
  const pipeline = { retryOptions: opts.retryOptions ?? { maxTries: 2, tryTimeoutInMs: 60_000 } };
  const service = 'connectionString' in source ? BlobServiceClient.fromConnectionString(source.connectionString, pipeline) : new BlobServiceClient(source.accountUrl, source.credential, pipeline);
  const auth: BlobAuth = !('connectionString' in source) ? 'entra' : /(^|;)\s*SharedAccessSignature=/i.test(source.connectionString) ? 'sas' : 'shared-key';
  // Emulator only: whether the service accepted the full listing, learned once per container.
  const fullListing = new Map<string, boolean>();
  let policy: { at: number; value: SoftDeletePolicy } | undefined;

  async function softDeletePolicy(): Promise<SoftDeletePolicy> {
    if (policy && Date.now() - policy.at < (opts.policyTtlMs ?? 5 * 60_000)) return policy.value;
    let value: SoftDeletePolicy;
    try {
      const props = await service.getProperties();
      const p = props.deleteRetentionPolicy;
      // The SDK does not parse `AllowPermanentDelete` (Get Blob Service Properties, version
      // 2020-02-10 and later), so it is read from the response body.
      const body = (props as { _response?: { bodyAsText?: string | null } })._response?.bodyAsText ?? '';
      const allow = /<DeleteRetentionPolicy>[\s\S]*?<AllowPermanentDelete>\s*true\s*<\/AllowPermanentDelete>[\s\S]*?<\/DeleteRetentionPolicy>/i.test(body);
      value = { known: true, enabled: !!p?.enabled, days: p?.enabled ? p.days : undefined, allowPermanentDelete: !!p?.enabled && allow };
    } catch (err) {
      value = { known: false, enabled: false, allowPermanentDelete: false, error: classify(err, 'blob service properties').message };
    }
    policy = { at: Date.now(), value };
    return value;
  }

  async function listPage(container: ContainerClient, prefix: string, token: string | undefined, pageSize: number, abortSignal?: AbortSignal) {
    const full = !emulator || (fullListing.get(container.containerName) ?? true);
    try {
      const iter = container
        .listBlobsFlat({
          prefix,
          includeSnapshots: true,
          includeVersions: full,
          includeDeleted: full,
          includeImmutabilityPolicy: full,
          includeLegalHold: full,
          abortSignal,
        })
        .byPage({ maxPageSize: pageSize, continuationToken: token });
      const page = (await iter.next()).value;
      if (emulator) fullListing.set(container.containerName, full);
      return { items: page?.segment.blobItems ?? [], next: page?.continuationToken || undefined };
    } catch (err) {
      if (emulator && full && err instanceof RestError && (err.statusCode === 400 || err.statusCode === 501)) {
        // Azurite only (`emulator`): it has no versions nor soft delete to list.
        fullListing.set(container.containerName, false);
        return listPage(container, prefix, token, pageSize, abortSignal);
      }
      const e = classify(err, `list ${container.containerName} (include=snapshots,versions,deleted)`);
      // A real account that refuses the full listing cannot be shown empty: never list less.
      throw e.type === 'invalid_input' ? new BlobStoreError('unavailable', `${e.message}: the account refused a listing of versions and soft-deleted blobs`, e.status) : e;
    }
  }

  interface BatchOutcome {
    /** The whole call's counts, added to as each sub-request succeeds. */
    counted: DeleteProgress;
    /** Names whose deletion failed (their later phases are skipped). */
    failed: Set<string>;
    held: { target: Target; code: string }[];
    notPurged: number;
  }

  async function deleteBatch(container: ContainerClient, batchClient: BlobBatchClient, targets: Target[], abortSignal: AbortSignal | undefined, out: BatchOutcome, leaseRetry = false): Promise<void> {
    const batch = batchClient.createBatch();
    for (const t of targets) {
      if (t.permanent) {
        // The SDK's delete options have no `deletetype`: the query parameter goes on the URL,
        // which the sub-request keeps (and signs) as it is.
        await batch.deleteBlob(`${t.blob.url}${t.blob.url.includes('?') ? '&' : '?'}deletetype=permanent`, t.blob.credential as never, {});
      } else await batch.deleteBlob(t.blob, t.withSnapshots ? { deleteSnapshots: 'include' } : {});
    }
    let res;
    try {
      res = await batchClient.submitBatch(batch, { abortSignal });
    } catch (err) {
      throw classify(err, 'blob batch');
    }
    const retryWithSnapshots: Target[] = [];
    const leased: Target[] = [];
    res.subResponses.forEach((sub, i) => {
      const t = targets[i];
      const code = sub.errorCode ?? '';
      // 404: already gone, which is what we wanted.
      if (sub.status === 202 || sub.status === 200) {
        if (t.permanent) out.counted.purged++;
        else out.counted.deleted++;
      } else if (sub.status === 404) {
        return;
      } else if (t.permanent && sub.status < 500 && sub.status !== 429) {
        // Delete Blob: 409 when permanent delete is off, or the copy is not soft-deleted; 403
        // without the permanent-delete permission. It stays soft-deleted until its retention ends.
        out.notPurged++;
      } else if (sub.status === 409 && code === 'SnapshotsPresent') {
        // Its snapshots were listed on another page, so we did not know about them.
        retryWithSnapshots.push({ ...t, withSnapshots: true });
      } else if (sub.status === 412 && code === 'LeaseIdMissing' && !leaseRetry) {
        leased.push(t);
      } else if (isHeld(sub.status, code)) {
        out.failed.add(t.item.name);
        out.held.push({ target: t, code });
      } else {
        throw new BlobStoreError(sub.status === 403 ? 'unauthorized' : 'unavailable', `blob batch sub-request failed: HTTP ${sub.status} ${code}`.trim(), sub.status);
      }
    });
    if (retryWithSnapshots.length) await deleteBatch(container, batchClient, retryWithSnapshots, abortSignal, out, leaseRetry);
    if (leased.length) {
      // Lease Blob, x-ms-lease-action: break with a zero break period: the lease ends at once
      // and the blob can be deleted without a lease id. Whoever held it loses it; a deletion
      // request outranks a lease. Leases belong to the base blob.
      for (const t of leased) {
        try {
          await container.getBlobClient(t.item.name).getBlobLeaseClient().breakLease(0, { abortSignal });
          out.counted.leasesBroken++;
        } catch (err) {
          throw classify(err, 'break lease');
        }
      }
      // A second 412 (the lease taken again at once) is a hold: a person must look.
      await deleteBatch(container, batchClient, leased, abortSignal, out, true);
    }
  }

  /** The remedy for a missing permission, in this credential's terms. */
  const grant = (what: string) =>
    auth === 'sas'
      ? `give the SAS the permission ${what}`
      : auth === 'shared-key'
        ? // The account key carries every permission: a 403 to it is a firewall or network rule (AuthorizationFailure).
          "the account key carries every permission: check the account's firewall and network rules for the worker's address"
        : `assign the worker's identity ${what} on the account (with AZURE_STORAGE_ACCOUNT_URL; Storage Blob Data Owner has every action Lethe needs)`;

  async function checkAccess(): Promise<BlobAccessCheck> {
    const how = auth === 'entra' ? 'Microsoft Entra ID' : auth === 'sas' ? 'a SAS' : 'Shared Key';
    const fail = (problem: NonNullable<BlobAccessCheck['problem']>, message: string, extra: Partial<BlobAccessCheck> = {}): BlobAccessCheck => ({ ok: false, problem, message, ...extra });
    const refused = (err: unknown, what: string): BlobAccessCheck => {
      const e = classify(err, what);
      const code = (err as { code?: string })?.code;
      if (code === SHARED_KEY_OFF) {
        return fail(
          'shared-key-disabled',
          `the storage account disallows Shared Key authorization (AllowSharedKeyAccess=false: ${what} answered 403 ${SHARED_KEY_OFF}); unset AZURE_STORAGE_CONNECTION_STRING and set AZURE_STORAGE_ACCOUNT_URL so the worker signs in with Microsoft Entra ID (DefaultAzureCredential), its identity holding Storage Blob Data Owner`,
        );
      }
      return fail(e.type === 'unauthorized' ? 'unauthorized' : 'unavailable', `${e.message} (signed with ${how})`);
    };

    // Get Account Information: a hierarchical namespace means no blob versioning and a different
    // deletion model (directories), which Lethe does not implement: refuse it, and say so. Asked
    // on the container's URL, which a container-scoped SAS may call too.
    let hierarchicalNamespace: boolean | undefined;
    try {
      hierarchicalNamespace = !!(await service.getContainerClient(containers[0]).getAccountInfo()).isHierarchicalNamespaceEnabled;
    } catch (err) {
      // The REST page lists Shared Key and SAS for this operation: an Entra token, or a SAS
      // without the rights, it refuses leaves the namespace unknown (the probe below still runs);
      // Shared Key disallowed, or anything else, is the answer.
      const status = err instanceof RestError ? err.statusCode : undefined;
      const code = (err as { code?: string })?.code;
      if (!(auth !== 'shared-key' && status === 403 && code !== SHARED_KEY_OFF)) return refused(err, 'Get Account Information');
    }
    if (hierarchicalNamespace) {
      return fail(
        'hierarchical-namespace',
        'the storage account has a hierarchical namespace (Data Lake Storage Gen2, x-ms-is-hns-enabled: true), which does not support blob versioning and which Lethe does not delete from: use an account without a hierarchical namespace for the containers Lethe deletes in',
        { hierarchicalNamespace },
      );
    }

    // The probe: what a deletion does to a versioned blob. Deleting the base blob needs
    // `…/blobs/delete`; it leaves the current version as a previous version, whose deletion by
    // `versionid` needs `deleteBlobVersion/action` (SAS permission `x`).
    const container = containers[0];
    const name = `${PROBE_PREFIX}${randomUUID()}`;
    const blob = service.getContainerClient(container).getBlockBlobClient(name);
    const where = `probe blob ${container}/${name}`;
    let versionId: string | undefined;
    try {
      const body = 'Lethe start-up probe: safe to delete';
      versionId = (await blob.upload(body, Buffer.byteLength(body))).versionId;
    } catch (err) {
      const r = refused(err, `writing the ${where}`);
      return r.problem === 'unauthorized'
        ? { ...r, problem: 'cannot-write', message: `${r.message}: ${grant(auth === 'sas' ? 'c and w' : 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write')}` }
        : { ...r, hierarchicalNamespace };
    }
    const versioning = versionId !== undefined;
    try {
      await blob.delete();
    } catch (err) {
      const r = refused(err, `deleting the ${where}`);
      return r.problem === 'unauthorized'
        ? { ...r, problem: 'cannot-delete', message: `${r.message}: ${grant(auth === 'sas' ? 'd' : 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete')}`, versioning }
        : { ...r, versioning };
    }
    if (versionId) {
      try {
        await blob.withVersion(versionId).delete();
      } catch (err) {
        const r = refused(err, `deleting a previous version of the ${where}`);
        return r.problem === 'unauthorized'
          ? {
              ...r,
              problem: 'cannot-delete-version',
              message: `cannot delete previous blob versions: ${r.message}: ${grant(auth === 'sas' ? 'x' : DELETE_VERSION_ACTION)}`,
              hierarchicalNamespace,
              versioning,
            }
          : { ...r, hierarchicalNamespace, versioning };
      }
    }
    return {
      ok: true,
      hierarchicalNamespace,
      versioning,
      message:
        `blob account signed in with ${how}: a probe blob was written and deleted` +
        (versioning ? ', its previous version too (versioning on)' : ' (versioning off: no version to delete)') +
        (hierarchicalNamespace === undefined ? '; hierarchical namespace unknown (Get Account Information refused this credential)' : '; no hierarchical namespace'),
    };
  }

  return {
    service,
    containers,
    emulator,
    auth,
    checkAccess,
    container: (name) => service.getContainerClient(name),
    softDeletePolicy,

    async ping() {
      for (const c of containers) {
        let exists: boolean;
        try {
          exists = await service.getContainerClient(c).exists();
        } catch (err) {
          throw classify(err, `container ${c}`);
        }
        if (!exists) throw new BlobStoreError('invalid_input', `blob container "${c}" does not exist`);
      }
    },

    async deletePrefix(containerName, prefix, opts) {
      const container = service.getContainerClient(containerName);
      const batchClient = container.getBlobBatchClient();
      const pageSize = opts.pageSize ?? 5000;
      const concurrency = opts.concurrency ?? 8;
      const sd = emulator ? undefined : await softDeletePolicy();
      const purge = !!sd?.enabled && sd.allowPermanentDelete;
      let token = opts.resumeToken;
      const counted = opts.progress ?? { deleted: 0, purged: 0, leasesBroken: 0 };
      const start = { ...counted };
      let listCalls = 0;
      let batchCalls = 0;
      const held: HeldSummary = { blobs: 0, legalHolds: 0, immutabilityPolicies: 0 };
      // The next page is listed while the current one is being deleted.
      let pending = listPage(container, prefix, token, pageSize, opts.abortSignal);
      pending.catch(() => undefined);
      for (;;) {
        const page = await pending;
        listCalls++;
        if (page.next) {
          pending = listPage(container, prefix, page.next, pageSize, opts.abortSignal);
          // If this page's deletion fails first, the prefetch's own failure must not go unhandled.
          pending.catch(() => undefined);
        }
        const out: BatchOutcome = { counted, failed: new Set(), held: [], notPurged: 0 };
        const phases: Phase[] = purge ? ['live', 'current', 'purge'] : ['live', 'current'];
        for (const phase of phases) {
          const targets = targetsOf(page.items, container, phase).filter((t) => !out.failed.has(t.item.name));
          const chunks: Target[][] = [];
          for (let i = 0; i < targets.length; i += BATCH_LIMIT) chunks.push(targets.slice(i, i + BATCH_LIMIT));
          await runBounded(
            chunks.map((c) => () => deleteBatch(container, batchClient, c, opts.abortSignal, out)),
            concurrency,
          );
          batchCalls += chunks.length;
        }
        for (const h of out.held) {
          held.blobs++;
          if (h.code.startsWith('LeaseId')) held.leases = (held.leases ?? 0) + 1;
          else if (h.code === 'BlobImmutableDueToLegalHold' || h.target.item.properties.legalHold) held.legalHolds++;
          else held.immutabilityPolicies++;
          held.until = later(held.until, h.target.item.properties.immutabilityPolicyExpiresOn?.getTime());
        }
        token = page.next;
        await opts.onPage?.({ nextToken: token });
        if (!token) break;
      }
      // This call's own counts (`progress` may carry an earlier call's).
      return { deleted: counted.deleted - start.deleted, purged: counted.purged - start.purged, leasesBroken: counted.leasesBroken - start.leasesBroken, listCalls, batchCalls, held };
    },

    async countPrefix(containerName, prefix) {
      const container = service.getContainerClient(containerName);
      const days = emulator ? undefined : (await softDeletePolicy()).days;
      const now = Date.now();
      const count: PrefixCount = { blobs: 0, snapshots: 0, versions: 0, softDeleted: 0, softDeletedCopies: 0 };
      let token: string | undefined;
      do {
        const page = await listPage(container, prefix, token, 5000);
        for (const i of page.items) {
          if (i.deleted) {
            count.softDeleted++;
            const end = retentionEnd(i, days, now);
            if (i.snapshot || (i.versionId && !i.isCurrentVersion)) {
              count.softDeletedCopies++;
              count.softDeletedCopiesUntil = later(count.softDeletedCopiesUntil, end);
            } else count.softDeletedBlobsUntil = later(count.softDeletedBlobsUntil, end);
          } else if (i.snapshot) count.snapshots++;
          else if (i.versionId && !i.isCurrentVersion) count.versions++;
          else count.blobs++;
        }
        token = page.next;
      } while (token);
      return count;
    },
  };
}
