/**
 * Deadline notices to operators: a log line, a counter, and the configured webhook.
 * The payload carries ids and times only.
 */
import { log } from '@temporalio/activity';
import { classified } from '../failures';

export interface DeadlineNotice {
  kind: 'warning' | 'overdue';
  requestId: string;
  accountId: string;
  workflowId: string;
  deadlineAt: string;
}

export const deadlineCounters = { warning: 0, overdue: 0 };

export const createNotifyActivities = (deps: { webhookUrl?: string }) => ({
  async notifyOperators(notice: DeadlineNotice): Promise<{ delivered: boolean }> {
    return classified('notify', async () => {
      deadlineCounters[notice.kind]++;
      log.warn(`deletion ${notice.kind === 'overdue' ? 'is OVERDUE' : 'is near its deadline'}`, { ...notice });
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
