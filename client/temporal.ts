import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { ConfigError, connectingTo, diagnoseTemporalTls, temporalClientConnectionOptions, type Config, requireKeyRing } from '../config';
import { getDataConverter } from '../encryption';

/**
 * A Temporal client for the API and the CLI. The connection is lazy so the API can start (and
 * report unhealthy) while Temporal is still down; but a server that answers and refuses the
 * connection (a wrong CA, no client certificate, TLS expected, a refused API key) is a
 * configuration mistake, and stops the process with the line naming the variable to fix.
 */
export async function connectTemporal(config: Config): Promise<Client> {
  // A handshake of our own: quick, and it leaves the client's lazy connection untouched.
  const found = await diagnoseTemporalTls(config.temporal);
  if (found) throw new ConfigError(found.variable, found.problem);
  if (config.temporal.tls?.apiKey || config.temporal.tls?.apiKeyFile) {
    // Only a call shows whether the key is accepted; a server that is down is not a mistake.
    const check = () => Connection.connect({ ...temporalClientConnectionOptions(config.temporal), connectTimeout: 5_000 }).then((c) => c.close());
    await connectingTo(config.temporal, check).catch((err) => {
      if (err instanceof ConfigError) throw err;
    });
  }
  return createTemporalClient(config);
}

/** The same client, synchronously (the worker makes one for the sweep's activities). */
export function createTemporalClient(config: Config): Client {
  // TLS, client certificate and API key from the configuration (config/temporal-tls.ts).
  const connection = Connection.lazy({ ...temporalClientConnectionOptions(config.temporal), connectTimeout: 5_000 });
  // The shared converter: what the API and CLI start is encrypted like what the worker writes.
  return new Client({ connection, namespace: config.temporal.namespace, dataConverter: getDataConverter(requireKeyRing(config)) });
}

/** Events read to find the first completed workflow task: signals may come before it. */
const FIRST_TASK_SCAN = 50;

/**
 * Whether the run's first workflow task has completed: before that, the workflow has no query
 * handler yet, and a query is not refused: the server holds it and hands it to a worker with
 * that first task. Answering it there changes how that task is recorded (the freeze's marker can
 * end it, and what follows come in the next task, as load-faults recorded), and the caller waits
 * for a worker. So Lethe asks only runs that are past it.
 */
export async function firstTaskCompleted(client: Client, execution: { workflowId: string; runId?: string }, historyLength: number): Promise<boolean> {
  // Started, task scheduled, task started: a completed task makes at least a fourth event.
  if (historyLength <= 3) return false;
  const res = await client.workflowService.getWorkflowExecutionHistory({ namespace: client.options.namespace, execution, maximumPageSize: FIRST_TASK_SCAN });
  const events = res.history?.events ?? [];
  // Past the scan (a run with that many signals before its first task is not one Lethe meets): yes.
  return events.length >= FIRST_TASK_SCAN || events.some((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
}
