/**
 * Every wait is seen. Whatever keeps failing (a store, the freeze, the re-check, the final
 * read-back, the receipt) is retried on its own, and turns `blocked` once the block policy's
 * bound (LETHE_BLOCK_AFTER for what only a person can fix, LETHE_BLOCK_AFTER_TRANSIENT for an
 * outage) has passed since it began failing: by a timer, while an attempt is still running or
 * while it waits for the next one. Marked only at the end of a failed attempt, a store refusing
 * with LETHE_BLOCK_AFTER=15m showed `retrying` for 23 to 30 minutes, however the attempts fell.
 */
import { condition, isCancellation } from '@temporalio/workflow';
import { failureText, failureTypeOf, NEEDS_PERSON, NON_RETRYABLE, type BlockPolicy, type StepProgress, type WaitingStep } from '../contract';

/** What the timer watches of something that may be failing. */
export interface Failing {
  /** When it began failing (the start of its first failed attempt), while it fails. */
  since(): string | undefined;
  /** Its latest failure is one only a person can fix: the shorter bound. */
  needsPerson(): boolean;
  isBlocked(): boolean;
  /** It succeeded, or an operator resolved it: nothing left to watch. */
  settled(): boolean;
  block(): void;
}

/** Blocks `f` when its bound passes; re-armed when its failure changes kind or ends. Never awaited. */
export async function blockWhenDue(f: Failing, policy: BlockPolicy): Promise<void> {
  for (;;) {
    await condition(() => f.settled() || (f.since() !== undefined && !f.isBlocked()));
    if (f.settled()) return;
    const since = f.since()!;
    const needsPerson = f.needsPerson();
    const due = Date.parse(since) + (needsPerson ? policy.needsPersonBlockAfterMs : policy.transientBlockAfterMs) - Date.now();
    if (due > 0 && (await condition(() => f.settled() || f.isBlocked() || f.since() !== since || f.needsPerson() !== needsPerson, due))) continue;
    f.block();
  }
}

/**
 * The wait before the next attempt: from 30 s doubling to the slow cadence, from three quarters
 * to the whole of it at random (the workflow's Math.random is seeded, so replay-safe): things
 * that failed together do not come back together, and never later than the cadence.
 */
export function backoffMs(attempts: number, policy: BlockPolicy): number {
  const backoff = Math.min(policy.retryEveryMs, 30_000 * 2 ** Math.min(attempts - 1, 5));
  return Math.round(backoff * (0.75 + Math.random() * 0.25));
}

/** One of the deletion's own steps (not a store) that may have to wait: its progress and its failing. */
export interface StepRun {
  progress: StepProgress & { name: WaitingStep };
  failingSince?: string;
  reason?: string;
  action?: string;
  needsPerson: boolean;
  blocked: boolean;
  /** An operator asked for an attempt now. */
  retryNow: boolean;
}

export const stepRun = (name: WaitingStep): StepRun => ({ progress: { name, status: 'pending', runs: 0 }, needsPerson: false, blocked: false, retryNow: false });

/** What an operator can do about a step of Lethe's own that keeps failing. */
function actionFor(name: WaitingStep, type: string | undefined): string {
  const what = { freeze: 'The freeze writes', recheck: 'The re-check reads', verify: 'The final read-back reads', receipt: 'The receipt writes' }[name];
  if (type !== undefined && NEEDS_PERSON.includes(type)) {
    return `${what} Lethe's own tables (and the stores it reads): the reason names who refused; fix the grant or credentials (DATABASE_URL and its grants on the lethe.* tables, or the vendor's key), then retry`;
  }
  return `${what} Lethe's own tables: Lethe keeps retrying on its own; see the reason (PostgreSQL or a vendor unreachable), or retry once it recovers`;
}

/**
 * Runs one of the deletion's own steps until it succeeds. `call` is one attempt (an activity
 * whose own retries stop at the attempt budget and at failures only a person can fix); the
 * step retries on the stores' cadence, shows `blocked` past its bound, and an operator's retry
 * tries it at once. Failures retrying cannot fix (an invalid input, an account that never
 * existed) end the deletion, as before.
 */
export async function persist<T>(run: StepRun, call: () => Promise<T>, policy: BlockPolicy, blockedChanged: () => void, summarize?: (r: T) => string): Promise<T> {
  const s = run.progress;
  let settled = false;
  void blockWhenDue(
    {
      since: () => run.failingSince,
      needsPerson: () => run.needsPerson,
      isBlocked: () => run.blocked,
      settled: () => settled,
      block: () => {
        run.blocked = true;
        s.detail = `blocked: ${run.reason}`;
        blockedChanged();
      },
    },
    policy,
  );
  s.status = 'running';
  let attempts = 0;
  try {
    for (;;) {
      s.runs++;
      attempts++;
      const startedAt = new Date().toISOString();
      try {
        const r = await call();
        const wasBlocked = run.blocked;
        Object.assign(run, { failingSince: undefined, reason: undefined, action: undefined, blocked: false });
        s.status = 'completed';
        s.detail = summarize?.(r);
        if (wasBlocked) blockedChanged();
        return r;
      } catch (err) {
        if (isCancellation(err)) throw err;
        const type = failureTypeOf(err);
        if (type !== undefined && NON_RETRYABLE.includes(type)) {
          s.status = 'failed';
          s.detail = failureText(err);
          throw err;
        }
        run.failingSince ??= startedAt;
        run.reason = failureText(err);
        run.action = actionFor(s.name, type);
        run.needsPerson = type !== undefined && NEEDS_PERSON.includes(type);
        s.detail = `${run.blocked ? 'blocked' : 'retrying'}: ${run.reason}`;
      }
      await condition(() => run.retryNow, backoffMs(attempts, policy));
      run.retryNow = false;
    }
  } finally {
    settled = true;
  }
}
