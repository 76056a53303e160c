// Prints the plain closing line CI reads ("N passed, N failed"), after jest's own summary; and,
// for a test file that failed, the end of its log (test-logs.js): its workers' and the SDK's
// lines and its console output, which a passing file keeps in its log file only.
const fs = require('node:fs');
const { logFileOf } = require('./test-logs');

const TAIL_LINES = Number(process.env.LETHE_TEST_LOG_TAIL || 200);

class SummaryReporter {
  onTestResult(_test, result) {
    if (result.numFailingTests === 0 && !result.testExecError) return;
    const file = logFileOf(result.testFilePath);
    if (!file || !fs.existsSync(file)) return;
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    const tail = lines.slice(-TAIL_LINES);
    process.stderr.write(
      `\n── log of ${result.testFilePath} (${tail.length < lines.length ? `last ${tail.length} of ${lines.length} lines; all in ` : ''}${file}) ──\n${tail.join('\n')}\n── end of log ──\n`,
    );
  }

  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const logs = process.env.LETHE_TEST_LOG_DIR && process.env.LETHE_TEST_LOGS !== 'inline' ? ` (logs: ${process.env.LETHE_TEST_LOG_DIR})` : '';
    process.stdout.write(`\njest: ${results.numPassedTests} passed, ${results.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}${logs}\n`);
  }
}
module.exports = SummaryReporter;
