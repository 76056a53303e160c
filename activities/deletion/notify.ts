/**
 * Notices to operators (deadline warnings and breaches, stores turning blocked): a log line,
 * a counter, and the configured webhook. The payload carries ids, times and the vendors'
 * reasons only.
 *
 * Each delivery is signed the way Stripe signs its webhooks, so a receiver can tell Lethe from
 * anyone else and refuse a replay: `Lethe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<raw body>" under LETHE_WEBHOOK_SECRET>`. The receiver recomputes the HMAC over the
 * bytes it received, compares in constant time, and rejects a `t` older than its tolerance
 * (Stripe's libraries use 5 minutes: https://docs.stripe.com/webhooks#verify-manually).
 *
 * Delivery is retried here, a bounded number of times with exponential backoff and full
 * jitter, and always ends: a notice that never gets through is logged as an error and counted
 * (lethe_webhook_deliveries_total{outcome="failed"}), and the activity still succeeds, so a
 * dead webhook can neither stall the deadline watch nor retry without end in Temporal.
 */
import { createHash, createHmac } from 'node:crypto';
import { log } from '@temporalio/activity';
import { classified } from '../failures';
import type { BlockedStore } from '../../contract';

export interface DeadlineNotice {
  kind: 'warning' | 'overdue' | 'blocked';
  requestId: string;
  accountId: string;
  workflowId: string;
  deadlineAt: string;
  /** With `blocked`: which stores wait for a person, why, and what to do. */
  blocked?: BlockedStore[];
}

/** What one notice's delivery came to; the worker's metrics count it (worker/metrics.ts). */
export interface NotifyResult {
  delivered: boolean;
  /** HTTP attempts made (0 without a webhook). */
  attempts: number;
  /** Set when a webhook is configured and every attempt failed: the last reason. */
  failed?: string;
}

export const deadlineCounters = { warning: 0, overdue: 0, blocked: 0 };

const HEADLINE: Record<DeadlineNotice['kind'], string> = {
  warning: 'deletion is near its deadline',
  overdue: 'deletion is OVERDUE',
  blocked: 'deletion is BLOCKED on a store only a person can unblock',
};

export const SIGNATURE_HEADER = 'Lethe-Signature';
/** The same id on every attempt of one notice, so a receiver can drop a duplicate. */
export const DELIVERY_HEADER = 'Lethe-Delivery';

/** `t=<unix>,v1=<hex>`: HMAC-SHA256 of `${t}.${body}` (Stripe's scheme). */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`, 'utf8').digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

export interface WebhookRetry {
  /** HTTP attempts in all (the first included). */
  attempts: number;
  /** Backoff before retry n is a random point below min(capMs, baseMs * 2^(n-1)). */
  baseMs: number;
  capMs: number;
  /** Per attempt. */
  timeoutMs: number;
}

/**
 * 5 attempts of at most 10 s each, waits below 1, 2, 4 and 8 s: at most ~65 s, inside the
 * 2-minute start-to-close timeout of the workflow's quick activities.
 */
export const DEFAULT_WEBHOOK_RETRY: WebhookRetry = { attempts: 5, baseMs: 1_000, capMs: 8_000, timeoutMs: 10_000 };

/** A receiver's refusal that repeating cannot change (a 4xx other than 408 and 429). */
const permanent = (status: number): boolean => status >= 400 && status < 500 && status !== 408 && status !== 429;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const createNotifyActivities = (deps: { webhookUrl?: string; webhookSecret?: string; retry?: WebhookRetry }) => ({
  async notifyOperators(notice: DeadlineNotice): Promise<NotifyResult> {
    return classified('notify', async () => {
      deadlineCounters[notice.kind]++;
      log.warn(HEADLINE[notice.kind], { ...notice });
      if (!deps.webhookUrl) return { delivered: false, attempts: 0 };
      // Production refuses a URL without a secret (config); the embedded stack may post unsigned.
      if (!deps.webhookSecret) log.warn('operator webhook is unsigned: set LETHE_WEBHOOK_SECRET so its receiver can verify it', { kind: notice.kind });
      const retry = deps.retry ?? DEFAULT_WEBHOOK_RETRY;
      const body = JSON.stringify({ event: `deletion.${notice.kind}`, ...notice });
      // From the notice itself: a retry of this activity (its worker died mid-delivery) sends the
      // same notice again under the same id, so the receiver's de-duplication still holds.
      const delivery = deliveryId(body);
      let failed = '';
      for (let attempt = 1; attempt <= retry.attempts; attempt++) {
        if (attempt > 1) await sleep(Math.round(Math.random() * Math.min(retry.capMs, retry.baseMs * 2 ** (attempt - 2))));
        // Signed per attempt: a retry carries a fresh timestamp, as Stripe's do.
        const signature = deps.webhookSecret ? { [SIGNATURE_HEADER]: signWebhook(deps.webhookSecret, body, Math.floor(Date.now() / 1000)) } : {};
        try {
          const res = await fetch(deps.webhookUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...signature, [DELIVERY_HEADER]: delivery },
            body,
            signal: AbortSignal.timeout(retry.timeoutMs),
          });
          await res.arrayBuffer().catch(() => undefined);
          if (res.ok) return { delivered: true, attempts: attempt };
          failed = `webhook answered HTTP ${res.status}`;
          if (permanent(res.status)) return giveUp(notice, attempt, failed);
        } catch (err) {
          failed = `webhook unreachable: ${(err as Error).name === 'TimeoutError' ? `no answer in ${retry.timeoutMs} ms` : ((err as Error).message ?? String(err))}`;
        }
        log.warn('operator webhook delivery failed; retrying', { kind: notice.kind, requestId: notice.requestId, attempt, reason: failed });
      }
      return giveUp(notice, retry.attempts, failed);
    });
  },
});

/** The notice's digest in UUID form: one id per notice, stable across attempts and activity retries. */
export function deliveryId(body: string): string {
  const h = createHash('sha256').update(body).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function giveUp(notice: DeadlineNotice, attempts: number, reason: string): NotifyResult {
  log.error('operator webhook delivery FAILED; the notice was not delivered', { kind: notice.kind, requestId: notice.requestId, workflowId: notice.workflowId, attempts, reason });
  return { delivered: false, attempts, failed: reason };
}
