/**
 * Notices to operators (deadline warnings and breaches, stores turning blocked): a log line,
 * a counter, and the configured webhook. The payload carries ids, times and the vendors'
 * reasons only.
 */
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

export const deadlineCounters = { warning: 0, overdue: 0, blocked: 0 };

const HEADLINE: Record<DeadlineNotice['kind'], string> = {
  warning: 'deletion is near its deadline',
  overdue: 'deletion is OVERDUE',
  blocked: 'deletion is BLOCKED on a store only a person can unblock',
};

export const createNotifyActivities = (deps: { webhookUrl?: string }) => ({
  async notifyOperators(notice: DeadlineNotice): Promise<{ delivered: boolean }> {
    return classified('notify', async () => {
      deadlineCounters[notice.kind]++;
      log.warn(HEADLINE[notice.kind], { ...notice });
      if (!deps.webhookUrl) return { delivered: false };
      const res = await fetch(deps.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ event: `deletion.${notice.kind}`, ...notice }),
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw new Error(`webhook answered HTTP ${res.status}`);
      return { delivered: true };
    });
  },
});
