/**
 * The API's log line for a 5xx says what failed underneath: the Temporal SDK wraps every gRPC
 * failure of a start in "Failed to start Workflow", so without the cause an on-call engineer
 * cannot tell a rate limit from an outage. And the class name survives the log redactor, which
 * takes every `name` field for a person's.
 */
import { ServiceError } from '@temporalio/client';
import { createApiLogger, errorSummary } from '../../client/api/logger';

describe('the API error log', () => {
  test('when a start fails under a gRPC status, then the logged error carries the status code and message under its cause, unredacted', () => {
    const grpc = Object.assign(new Error('8 RESOURCE_EXHAUSTED: namespace rate limit exceeded'), { code: 8 });
    const err = new ServiceError('Failed to start Workflow', { cause: grpc });
    expect(errorSummary(err)).toEqual({ type: 'ServiceError', message: 'Failed to start Workflow', cause: { type: 'Error', code: 8, message: '8 RESOURCE_EXHAUSTED: namespace rate limit exceeded' } });

    const lines: string[] = [];
    const logger = createApiLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } });
    logger.error({ status: 500, error: errorSummary(err) }, 'request error');
    const logged = JSON.parse(lines[0]) as { error: ReturnType<typeof errorSummary> };
    expect(logged.error).toMatchObject({ type: 'ServiceError', cause: { code: 8, message: expect.stringContaining('RESOURCE_EXHAUSTED') } });
  });

  test('when errors wrap each other without end, then the summary stops three causes down', () => {
    const loop: Error & { cause?: unknown } = new Error('loop');
    loop.cause = loop;
    let depth = 0;
    for (let s: { cause?: unknown } | undefined = errorSummary(loop); s; s = s.cause as typeof s) depth++;
    expect(depth).toBe(4);
  });
});
