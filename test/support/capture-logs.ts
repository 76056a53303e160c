/**
 * Run before each test file (jest's setupFilesAfterEnv): what the file's workers, the SDK and
 * the test itself log goes to the file's log (test-logs.js), not the terminal, so a passing run
 * reads as a summary; the summary reporter prints the log's end for a file that failed.
 * LETHE_TEST_LOGS=inline prints everything as it comes instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { logFileOf } from './test-logs';

const file = logFileOf(expect.getState().testPath ?? '');
if (file) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Appended synchronously: a test that hangs or a worker that crashes still leaves its last lines.
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      fs.appendFileSync(file, chunk);
      done();
    },
  });
  globalThis.console = new Console({ stdout: sink, stderr: sink });
  // The options of the process-wide Runtime, made when this file's first worker or native
  // connection needs it (installed now, it would keep a file without workers from exiting):
  // the SDK's logs and core's (forwarded).
  Runtime.defaultOptions = {
    logger: new DefaultLogger('INFO', ({ level, message, meta, timestampNanos }) =>
      fs.appendFileSync(
        file,
        `${new Date(Number(timestampNanos / 1_000_000n)).toISOString()} [${level}] ${message}${meta === undefined ? '' : ` ${inspect(meta, { breakLength: Infinity, depth: 4 })}`}\n`,
      ),
    ),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }), forward: {} } },
  };
}
