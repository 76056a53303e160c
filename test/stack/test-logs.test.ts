/**
 * A passing `npm test` reads as a summary: each test file's worker, SDK and console logs go to a
 * file of its own (capture-logs.ts); the summary reporter prints the end of that file for a
 * test file that failed, and nothing for one that passed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { logFileOf } from '../support/test-logs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const SummaryReporter = require('../support/summary-reporter') as new () => { onTestResult(test: unknown, result: unknown): void };

describe('test logs', () => {
  test('when this file runs, then what it logs goes to its log file, not the terminal', () => {
    const file = logFileOf(__filename)!;
    console.log('a line only the log file holds');
    expect(fs.readFileSync(file, 'utf8')).toContain('a line only the log file holds');
  });

  test('when a test file failed, then the reporter prints the end of its log; when it passed, nothing', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-test-logs-'));
    const env = { LETHE_TEST_LOG_DIR: dir };
    const testFilePath = path.resolve(__dirname, 'some.test.ts');
    const saved = process.env.LETHE_TEST_LOG_DIR;
    const written: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    try {
      process.env.LETHE_TEST_LOG_DIR = dir;
      fs.writeFileSync(logFileOf(testFilePath, env)!, Array.from({ length: 300 }, (_, i) => `line ${i}`).join('\n'));
      const reporter = new SummaryReporter();
      reporter.onTestResult({}, { testFilePath, numFailingTests: 0 });
      expect(written).toEqual([]);
      reporter.onTestResult({}, { testFilePath, numFailingTests: 1 });
      const out = written.join('');
      expect(out).toContain('line 299');
      expect(out).toContain('line 100');
      expect(out).not.toContain('line 99\n');
    } finally {
      spy.mockRestore();
      process.env.LETHE_TEST_LOG_DIR = saved;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
