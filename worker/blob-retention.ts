/**
 * The storage account's blob soft delete, read once at worker start (Get Blob Service Properties,
 * `DeleteRetentionPolicy`: `Enabled`, `Days` 1–365, `AllowPermanentDelete`). A deleted blob stays
 * recoverable for the retention period and nothing in the data plane purges a soft-deleted base
 * blob early, so a retention longer than the deadline means deleted media outlives it. That is
 * said loudly here; each deletion still completes and its media verification lists the
 * soft-deleted blobs as `pending` with the date Azure purges them.
 */
import type { BlobStore } from '../stores/blobs';

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
}

/** Never throws: an account Lethe cannot read the properties of is `unknown`, not a reason to stop. */
export async function checkBlobRetention(blobs: BlobStore, opts: { deadlineHours: number; log?: (line: string) => void }): Promise<BlobRetentionCheck> {
  const checkedAt = new Date().toISOString();
  const base = { checkedAt, deadlineHours: opts.deadlineHours };
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
