// Where a test file's logs go (worker and SDK logs, console output): one file per test file in
// the run's log folder (LETHE_TEST_LOG_DIR, made by global-setup.ts). Shared by the capture
// (capture-logs.ts, in each test file) and the summary reporter, which prints a failed file's.
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');

/** The log file of a test file, or undefined when logs are not captured (LETHE_TEST_LOGS=inline). */
function logFileOf(testPath, env = process.env) {
  if (!env.LETHE_TEST_LOG_DIR || env.LETHE_TEST_LOGS === 'inline') return undefined;
  return path.join(env.LETHE_TEST_LOG_DIR, `${path.relative(ROOT, testPath).replace(/[\\/]/g, '__')}.log`);
}

module.exports = { logFileOf };
