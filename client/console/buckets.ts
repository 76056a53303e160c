/**
 * The requests page's buckets, as a table of definitions: its label, where its rows live, and
 * the SQL condition that puts a row in it. The counts at the top and the table's bucket filter
 * both read this list, so adding a bucket (a `held` one with legal holds) is one line here.
 *
 * The time buckets (on time, due soon, past due) split the open requests by time left; `blocked`
 * overlaps them (a blocked request is also on time or late). Conditions are PostgreSQL over
 * lethe.deletion_requests (or lethe.verifications), with `?` bindings from `BucketContext`.
 */
export interface BucketContext {
  /** LETHE_CONSOLE_DUE_SOON, in seconds. */
  dueSoonSecs: number;
  /** The start of the period the `completed` bucket counts. */
  periodStart: Date;
}

export interface Bucket {
  key: string;
  label: string;
  /** What it means, under its count. */
  hint: string;
  source: 'requests' | 'verifications';
  where: (c: BucketContext) => [sql: string, bindings: unknown[]];
}

const OPEN = "status in ('pending', 'running', 'blocked')";

export const BUCKETS: readonly Bucket[] = [
  {
    key: 'awaiting_confirmation',
    label: 'Awaiting confirmation',
    hint: 'public requests waiting for the person to confirm',
    source: 'verifications',
    where: () => ["status = 'awaiting_confirmation'", []],
  },
  {
    key: 'on_time',
    label: 'On time',
    hint: 'open, more than the due-soon margin left',
    source: 'requests',
    where: (c) => [`${OPEN} and deadline_at >= now() + make_interval(secs => ?)`, [c.dueSoonSecs]],
  },
  {
    key: 'due_soon',
    label: 'Due soon',
    hint: 'open, under the due-soon margin left',
    source: 'requests',
    where: (c) => [`${OPEN} and deadline_at >= now() and deadline_at < now() + make_interval(secs => ?)`, [c.dueSoonSecs]],
  },
  // Failed requests past their deadline are broken promises too, until an operator acts (as the gauges count them).
  {
    key: 'past_due',
    label: 'Past due',
    hint: 'open or failed, past the deadline',
    source: 'requests',
    where: () => ["status in ('pending', 'running', 'blocked', 'failed') and deadline_at < now()", []],
  },
  { key: 'blocked', label: 'Blocked', hint: 'a store waits for a person', source: 'requests', where: () => ["status = 'blocked'", []] },
  { key: 'held', label: 'Held', hint: 'deferred under a legal hold (clock paused)', source: 'requests', where: () => ["status = 'held'", []] },
  { key: 'completed', label: 'Completed', hint: 'receipt written in the period', source: 'requests', where: (c) => ["status = 'completed' and completed_at >= ?", [c.periodStart]] },
];

export const bucketOf = (key: string | undefined): Bucket | undefined => BUCKETS.find((b) => b.key === key);

/** The `completed` bucket's selectable periods, in days. */
export const PERIODS = [1, 7, 30, 90, 365] as const;
