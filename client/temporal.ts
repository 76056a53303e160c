import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';
import { getDataConverter } from '../encryption';

/** A Temporal client for the API and the CLI. The connection is lazy so the API can start
 * (and report unhealthy) while Temporal is still down. */
export async function connectTemporal(config: Config): Promise<Client> {
  return createTemporalClient(config);
}

/** The same client, synchronously (the worker makes one for the sweep's activities). */
export function createTemporalClient(config: Config): Client {
  const connection = Connection.lazy({ address: config.temporal.address, connectTimeout: 5_000 });
  // The shared converter: what the API and CLI start is encrypted like what the worker writes.
  return new Client({ connection, namespace: config.temporal.namespace, dataConverter: getDataConverter(config) });
}
