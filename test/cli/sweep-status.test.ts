/**
 * `lethe sweep status` shows what a sweep did about the inactivity notice ladder (issue 34): the
 * notices mailed (or, in a dry run, that it would mail, with whom and from when) and the eligible
 * accounts it deferred until their last notice's lead time has passed.
 */
import { renderSweep } from '../../client/cli/commands/sweep';
import type { SweepView } from '../../client/sweeps';

const base: SweepView = {
  sweepId: 'sweep-2026-12-07',
  status: 'completed',
  dryRun: false,
  startedAt: '2026-12-07T03:00:00.000Z',
  finishedAt: '2026-12-07T03:01:00.000Z',
  scanned: 40,
  eligible: 12,
  started: 9,
  noticesSent: 5,
  deferred: 3,
};

describe('lethe sweep status', () => {
  test('when a sweep mailed notices and deferred deletions, then it says how many of each', () => {
    const out = renderSweep(base);
    expect(out).toContain('Notices   5 mailed; 3 eligible waiting for their last notice');
    expect(out).toContain('Deletions 9 started');
  });

  test('when a dry run lists the notices it would mail, then each shows with its account, rung and the day deletion could start', () => {
    const out = renderSweep({
      ...base,
      dryRun: true,
      started: 0,
      noticesSent: 1,
      deferred: 1,
      notices: [{ accountId: '0d4e6d1c-5f0a-4c59-9d1e-3b3f1b1f7a11', rung: '7d', deleteFrom: '2026-12-14T03:00:00.000Z' }],
    });
    expect(out).toContain('Notices   1 would be mailed; 1 eligible waiting');
    expect(out).toMatch(/Notices it would mail[^\n]*\n {2}0d4e6d1c-5f0a-4c59-9d1e-3b3f1b1f7a11 {2}7d {2}2026-12-14/);
  });
});
