/**
 * The inactivity sweep (CONTRACT §1: accounts inactive for over 24 months with no live
 * subscription are deleted). Keyset pages over (inactive-since, id), one activity per page:
 * the page's ids stay in PostgreSQL (lethe.sweep_candidates), so each page adds a handful of
 * events to history whatever its size, and the run continues as new every PAGES_PER_RUN pages
 * (~6 events a page: well below Temporal's 10,000-event guidance at any account count).
 *
 * The sweep id is the workflow id: the Schedule's `inactivity-sweep-<time>`, or the API's
 * `inactivity-sweep-<uuid>`; continue-as-new keeps it, so one sweep is one id across runs.
 */
import { CancellationScope, continueAsNew, ContinueAsNew, isCancellation, proxyActivities, setHandler, workflowInfo, log } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { failureText, NON_RETRYABLE, sweepProgressQuery, type LegacySweepInput, type SweepCounts, type SweepProgress, type SweepResult } from '../contract';

/** ~6 history events a page (activity scheduled/started/completed, a workflow task): ~600 a run. */
export const PAGES_PER_RUN = 100;

const quick = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: NON_RETRYABLE },
});
// A page keeps starting deletions for at most its time budget (5 minutes by default), then
// hands back a cursor; the heartbeat lets a retried attempt resume where the last one was.
const pages = proxyActivities<Activities>({
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: NON_RETRYABLE },
});

export async function inactivitySweepWorkflow(input: LegacySweepInput = {}): Promise<SweepResult> {
  const sweepId = workflowInfo().workflowId;
  const dryRun = input.dryRun ?? false;
  const progress: SweepProgress = {
    sweepId,
    dryRun,
    status: 'running',
    scanned: input.carried?.totals.scanned ?? 0,
    eligible: input.carried?.totals.eligible ?? 0,
    started: input.carried?.totals.started ?? 0,
    pages: input.carried?.pages ?? 0,
    run: (input.carried?.runs ?? 0) + 1,
    referenceTime: input.carried?.referenceTime,
    cutoff: input.carried?.cutoff,
    startedAt: input.carried?.startedAt ?? new Date().toISOString(),
  };
  setHandler(sweepProgressQuery, () => progress);

  const totals = (): SweepCounts => ({ scanned: progress.scanned, eligible: progress.eligible, started: progress.started });
  try {
    let carried = input.carried;
    if (!carried) {
      // The workflow's clock is deterministic: every page of this sweep judges "now" alike.
      const begun = await quick.beginSweep({ sweepId, dryRun, referenceTime: new Date().toISOString() });
      carried = { ...begun, totals: totals(), pages: 0, runs: 0, startedAt: progress.startedAt! };
      progress.referenceTime = begun.referenceTime;
      progress.cutoff = begun.cutoff;
    }
    let cursor = carried.cursor;
    // The worker's setting, fixed at the sweep's start; older histories carried it in the input.
    const perRun = input.pagesPerRun ?? carried.pagesPerRun ?? PAGES_PER_RUN;
    for (let pagesThisRun = 0; ;) {
      const page = await pages.sweepPage({
        sweepId,
        dryRun,
        cutoff: carried.cutoff,
        referenceTime: carried.referenceTime,
        cursor,
        totals: totals(),
        pageNumber: progress.pages + 1,
      });
      progress.pages++;
      progress.scanned += page.scanned;
      // The recorded counts when the activity has them: exact through a retried page.
      progress.eligible = page.sweepTotals?.eligible ?? progress.eligible + page.eligible;
      progress.started = page.sweepTotals?.started ?? progress.started + page.started;
      // The notice ladder's counts (docs/notices.md), from pages that have them: no new command.
      if (page.sweepTotals?.noticesSent !== undefined) progress.noticesSent = page.sweepTotals.noticesSent;
      if (page.sweepTotals?.deferred !== undefined) progress.deferred = page.sweepTotals.deferred;
      cursor = page.nextCursor;
      if (!cursor) break;
      if (++pagesThisRun >= perRun || workflowInfo().continueAsNewSuggested) {
        log.info('sweep continues as new', { sweepId, pages: progress.pages, scanned: progress.scanned });
        await continueAsNew<typeof inactivitySweepWorkflow>({
          ...input,
          carried: { ...carried, cursor, totals: totals(), pages: progress.pages, runs: progress.run },
        });
      }
    }
    await quick.finishSweep({ sweepId, status: 'completed', totals: totals(), pages: progress.pages });
    progress.status = 'completed';
    progress.finishedAt = new Date().toISOString();
    const notices = progress.noticesSent !== undefined ? { noticesSent: progress.noticesSent, deferred: progress.deferred ?? 0 } : {};
    return { sweepId, dryRun, ...totals(), ...notices, pages: progress.pages, runs: progress.run, cutoff: carried.cutoff, referenceTime: carried.referenceTime };
  } catch (err) {
    // continueAsNew() ends this run by throwing: that is not a failure.
    if (err instanceof ContinueAsNew) throw err;
    progress.status = 'failed';
    const reason = isCancellation(err) ? 'cancelled' : failureText(err);
    // Non-cancellable: a cancelled sweep must still be recorded as ended, not left "running".
    await CancellationScope.nonCancellable(() => quick.finishSweep({ sweepId, status: 'failed', totals: totals(), pages: progress.pages, error: reason })).catch(() => undefined);
    throw err;
  }
}
