/** The worker's redacting logger: what reaches the log sink holds ids, never personal data. */
import vm from 'node:vm';
import { inspect } from 'node:util';
import type { Logger, LogLevel, LogMetadata } from '@temporalio/common';
import { ApplicationFailure } from '@temporalio/common';
import { createRedactingLogger, isPersonalField, REDACTED } from '../../worker/logger';

function capture(): { logger: Logger; lines: { level: LogLevel; message: string; meta?: LogMetadata }[] } {
  const lines: { level: LogLevel; message: string; meta?: LogMetadata }[] = [];
  const sink: Logger = {
    log: (level, message, meta) => lines.push({ level, message, meta }),
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
  };
  return { logger: createRedactingLogger(sink), lines };
}

describe('redacting logger', () => {
  test('when metadata holds personal fields at any depth, then their values are masked and ids are kept', () => {
    const { logger, lines } = capture();
    logger.warn('share lookup', {
      accountId: '6f1c2a0e-0000-4000-8000-000000000001',
      workflowId: 'deletion-6f1c2a0e-0000-4000-8000-000000000001',
      email: 'ada@example.test',
      account: { full_name: 'Ada Lovelace', phone: '+351 912345678', address_line1: '12 Rua das Flores', addressLine2: 'Apt 3', postal_code: '1000-100' },
      shares: [{ recipient_email: 'grace@example.test', recipientEmail: 'alan@example.test' }],
      login: { ip: '203.0.113.7', ip_address: '203.0.113.8', name: 'Ada' },
      count: 3,
    });
    const out = JSON.stringify(lines);
    for (const v of [
      'ada@example.test',
      'Ada Lovelace',
      '+351 912345678',
      '12 Rua das Flores',
      'Apt 3',
      '1000-100',
      'grace@example.test',
      'alan@example.test',
      '203.0.113.7',
      '203.0.113.8',
      '"Ada"',
    ]) {
      expect(out).not.toContain(v);
    }
    expect(lines[0].level).toBe('WARN');
    expect(lines[0].meta).toMatchObject({ accountId: '6f1c2a0e-0000-4000-8000-000000000001', count: 3, email: REDACTED, account: { full_name: REDACTED } });
  });

  test('when an email appears in a message, an error text or a stack trace, then it is masked there too', () => {
    const { logger, lines } = capture();
    const err = ApplicationFailure.create({ type: 'InvalidInput', message: 'auth0 400 rejected: no user Ada.Lovelace+cams@example.co.uk' });
    logger.error('activity failed for ada@example.test', { error: err, detail: 'lookup of grace@example.test' });
    const logged = lines[0].meta!.error as Error;
    expect(logged).toBeInstanceOf(Error);
    expect(logged.message).toBe('auth0 400 rejected: no user [email redacted]');
    expect(logged.name).toBe('ApplicationFailure');
    expect(`${lines[0].message} ${logged.stack} ${lines[0].meta!.detail}`).not.toMatch(/@example/);
    // The original error is left alone: the worker still reports it to Temporal (encrypted).
    expect(err.message).toContain('Ada.Lovelace+cams@example.co.uk');
  });

  test('when an error comes from the workflow sandbox (another realm) with a cause chain, then every level is scrubbed', () => {
    const { logger, lines } = capture();
    const inner = vm.runInNewContext('new TypeError("lookup of grace@example.test failed")') as Error;
    const outer = new Error('Activity task failed', { cause: inner });
    logger.warn('Workflow failed', { error: outer });
    const logged = lines[0].meta!.error as Error;
    expect(logged.message).toBe('Activity task failed');
    expect((logged.cause as Error).message).toBe('lookup of [email redacted] failed');
    expect((logged.cause as Error).name).toBe('TypeError');
    expect(inspect(lines[0].meta, { depth: 10 })).not.toContain('grace@example.test');
  });

  test.each(['email', 'Email', 'full_name', 'fullName', 'phone', 'address_line1', 'addressLine2', 'recipient_email', 'name', 'ip', 'ip_address', 'contactEmail'])(
    'when the field is %s, then it counts as personal',
    (field) => expect(isPersonalField(field)).toBe(true),
  );

  test.each(['accountId', 'workflowId', 'requestId', 'taskQueue', 'activityType', 'attempt', 'sdkComponent'])('when the field is %s, then it is kept', (field) =>
    expect(isPersonalField(field)).toBe(false),
  );
});
