import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';

/** A Temporal client for the API and the CLI. The connection is lazy so the API can start
 * (and report unhealthy) while Temporal is still down. */
export async function connectTemporal(config: Config): Promise<Client> {
  const connection = Connection.lazy({ address: config.temporal.address, connectTimeout: 5_000 });
  return new Client({ connection, namespace: config.temporal.namespace });
}
