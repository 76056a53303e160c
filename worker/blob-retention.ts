/**
 * The storage account's blob soft delete, read once at worker start (Get Blob Service Properties,
 * `DeleteRetentionPolicy`: `Enabled`, `Days` 1–365, `AllowPermanentDelete`). A deleted blob stays
 * recoverable for the retention period and nothing in the data plane purges a soft-deleted base
 * blob early, so a retention longer than the deadline means deleted media outlives it. That is
 * said loudly here; each deletion still completes and its media verification lists the
 * soft-deleted blobs as `pending` with the date Azure purges them.
 */
import { ConfigError } from '../config';
import type { BlobAccessCheck, BlobStore } from '../stores/blobs';

/**
 * The account cannot be used as configured: Shared Key disallowed, a hierarchical namespace, or
 * a credential that cannot delete a previous version. A ConfigError, so the worker's last words
 * are this one line naming the variable (worker/main.ts), not a stack.
 */
export class BlobAccessError extends ConfigError {
  constructor(
    variable: 'AZURE_STORAGE_CONNECTION_STRING' | 'AZURE_STORAGE_ACCOUNT_URL',
    readonly check: BlobAccessCheck,
  ) {
    super(variable, check.message);
    this.name = 'BlobAccessError';
  }
}

/**
 * Before any deletion can fail halfway on it: the account has no hierarchical namespace, and the
 * worker's credential can write, delete, and delete a previous version of a probe blob of its own
 * (stores/blobs.ts, checkAccess). The emulator is not probed (Azurite has no versions). Throws
 * BlobAccessError with one line saying what is missing.
 */
export async function assertBlobAccess(blobs: BlobStore): Promise<BlobAccessCheck | undefined> {
  if (blobs.emulator) return undefined;
  const check = await blobs.checkAccess();
  if (!check.ok) throw new BlobAccessError(blobs.auth === 'entra' ? 'AZURE_STORAGE_ACCOUNT_URL' : 'AZURE_STORAGE_CONNECTION_STRING', check);
  return check;
}

export interface BlobRetentionCheck {
  checkedAt: string;
  /** `ok`: no soft-deleted media outlives a deadline; `warning`: it does; `unknown`: the properties could not be read. */
  status: 'ok' | 'warning' | 'unknown';
  softDelete: { enabled: boolean; days?: number; allowPermanentDelete: boolean } | null;
  /** How long a deleted blob stays recoverable (0 without soft delete). */
  retentionHours?: number;
  deadlineHours: number;
  /** Soft-deleted media may still exist when a request's deadline passes. */
  outlivesDeadline: boolean;
  /** One line for logs, /healthz and the metrics' help text. */
  message: string;
  /** The access check that ran first (absent on the emulator, or with `access: false`). */
  access?: BlobAccessCheck;
}

/**
 * First the access check (assertBlobAccess, which throws BlobAccessError: a worker that cannot
 * delete versions, or an account Lethe cannot delete from, must not start; `access: false` skips
 * it), then the retention, which never throws: an account Lethe cannot read the properties of is
 * `unknown`, not a reason to stop.
 */
export async function checkBlobRetention(blobs: BlobStore, opts: { deadlineHours: number; log?: (line: string) => void; access?: boolean }): Promise<BlobRetentionCheck> {
  const access = opts.access === false ? undefined : await assertBlobAccess(blobs);
  const checkedAt = new Date().toISOString();
  const base = { checkedAt, deadlineHours: opts.deadlineHours, ...(access ? { access } : {}) };
  let result: BlobRetentionCheck;
  if (blobs.emulator) {
    result = { ...base, status: 'ok', softDelete: null, outlivesDeadline: false, message: 'blob storage is the emulator (Azurite): no soft delete' };
  } else {
    const p = await blobs.softDeletePolicy();
    if (!p.known) {
      result = {
        ...base,
        status: 'unknown',
        softDelete: null,
        outlivesDeadline: false,
        message: `blob soft delete unknown (${p.error ?? 'service properties unreadable'}): deleted media may stay recoverable past the ${opts.deadlineHours} h deadline`,
      };
    } else {
      const retentionHours = p.enabled ? (p.days ?? 0) * 24 : 0;
      // At best a blob is deleted the moment its request arrives; its copy is purged `days` later.
      const outlivesDeadline = retentionHours > opts.deadlineHours;
      const softDelete = { enabled: p.enabled, ...(p.days !== undefined ? { days: p.days } : {}), allowPermanentDelete: p.allowPermanentDelete };
      result = {
        ...base,
        status: outlivesDeadline ? 'warning' : 'ok',
        softDelete,
        retentionHours,
        outlivesDeadline,
        message: !p.enabled
          ? 'blob soft delete is off: deleted media is gone at once'
          : outlivesDeadline
            ? `blob soft delete keeps deleted media recoverable for ${p.days} days, past the ${opts.deadlineHours} h deadline: receipts will list it as pending until Azure purges it; turn blob soft delete off or shorten it to meet the deadline` +
              (p.allowPermanentDelete ? '' : ' (permanent delete is off too: soft-deleted snapshots and versions also wait for the retention)')
            : `blob soft delete keeps deleted media for ${p.days} days, within the ${opts.deadlineHours} h deadline`,
      };
    }
  }
  opts.log?.(`${result.status === 'ok' ? '' : 'WARNING: '}${result.message}`);
  return result;
}
