/**
 * A run's activity tasks as its history records them: which activity, on which task queue, when
 * it was scheduled, and when and by which worker it was taken. The tests that check where and in
 * what order vendor tasks ran (queues, rates, priority) read histories through this.
 */
import type { temporal } from '@temporalio/proto';

export interface ActivityTask {
  eventId: string;
  type: string;
  queue: string;
  scheduledAt: number;
  /** Absent while no worker has taken it. */
  startedAt?: number;
  identity?: string;
}

const ms = (t?: { seconds?: unknown; nanos?: number | null } | null) => Number(t?.seconds ?? 0) * 1000 + Math.round((t?.nanos ?? 0) / 1e6);

/** In the order they were scheduled. */
export function activityTasks(history: temporal.api.history.v1.IHistory): ActivityTask[] {
  const tasks = new Map<string, ActivityTask>();
  for (const e of history.events ?? []) {
    const a = e.activityTaskScheduledEventAttributes;
    if (a) tasks.set(String(e.eventId), { eventId: String(e.eventId), type: a.activityType?.name ?? '', queue: a.taskQueue?.name ?? '', scheduledAt: ms(e.eventTime) });
    const st = e.activityTaskStartedEventAttributes;
    const task = st ? tasks.get(String(st.scheduledEventId)) : undefined;
    if (task) Object.assign(task, { startedAt: ms(e.eventTime), identity: st!.identity ?? '' });
  }
  return [...tasks.values()];
}
