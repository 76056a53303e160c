/**
 * The worker's logs carry ids, counts and failure types, never personal data: every line
 * passes logging/redact.ts.
 *
 * Installed as the Temporal Runtime's logger, so it sees SDK logs, workflow `log.*`, activity
 * `log.*`, and (forwarded) the native core's logs alike.
 */
import { DefaultLogger, makeTelemetryFilterString, Runtime, RuntimeOptions } from '@temporalio/worker';
import type { Logger, LogLevel, LogMetadata } from '@temporalio/common';
import { redact, scrub } from '../logging/redact';

export { isPersonalField, REDACTED } from '../logging/redact';

export function createRedactingLogger(inner: Logger = new DefaultLogger(logLevelFromEnv())): Logger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => inner.log(level, scrub(message), meta === undefined ? undefined : (redact(meta) as LogMetadata));
  return {
    log,
    trace: (m, meta) => log('TRACE', m, meta),
    debug: (m, meta) => log('DEBUG', m, meta),
    info: (m, meta) => log('INFO', m, meta),
    warn: (m, meta) => log('WARN', m, meta),
    error: (m, meta) => log('ERROR', m, meta),
  };
}

function logLevelFromEnv(): LogLevel {
  const raw = (process.env.LETHE_LOG_LEVEL ?? '').toUpperCase();
  return (['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const).find((l) => l === raw) ?? 'INFO';
}

/**
 * Installs the process-wide Temporal Runtime with the redacting logger, before any connection
 * or worker exists (Runtime.install refuses afterwards). Other runtime options (metrics) are
 * passed through; the logger given, if any, is wrapped rather than replaced.
 */
export function installWorkerRuntime(options: RuntimeOptions = {}): Runtime {
  return Runtime.install({
    ...options,
    logger: createRedactingLogger(options.logger),
    telemetryOptions: {
      ...options.telemetryOptions,
      // Core's own logs are printed directly unless forwarded; forwarded, they pass the redactor.
      logging: options.telemetryOptions?.logging ?? { filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }), forward: {} },
    },
  });
}
