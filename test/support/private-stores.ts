/**
 * Stores of a test's own, for tests that break them (faults, outages): vendor sandboxes in
 * process and an Azurite child process with files on disk, so stopping it loses nothing and
 * no other test file feels the fault.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAuth0Sandbox } from '../../dev/sandboxes/auth0/server';
import { startRecurlySandbox } from '../../dev/sandboxes/recurly/server';
import type { RunningSandbox } from '../../dev/sandboxes/common/server';
import { Supervisor, Service } from '../../dev/stack/supervisor';
import { azuriteSpec, ensureContainers } from '../../dev/stack/azurite';
import { freePort } from '../../dev/stack/net';
import { azuriteConnectionString } from '../../config';

export interface PrivateStores {
  auth0: RunningSandbox;
  recurly: RunningSandbox;
  azurite: Service;
  /** Env for startWorld / a worker process, pointing at these stores. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startPrivateStores(): Promise<PrivateStores> {
  const clientId = process.env.AUTH0_CLIENT_ID ?? 'lethe-dev';
  const clientSecret = process.env.AUTH0_CLIENT_SECRET ?? 'lethe-dev-secret';
  const apiKey = process.env.RECURLY_API_KEY ?? 'lethe-dev-key';
  const auth0 = await startAuth0Sandbox({ port: 0, clientId, clientSecret, rateLimitPerSecond: 10_000 });
  const recurly = await startRecurlySandbox({ port: 0, apiKey, rateLimitPerMinute: 1_000_000 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-private-'));
  const sup = new Supervisor(path.join(dir, 'logs'), () => undefined);
  const port = await freePort();
  const azurite = await sup.start(azuriteSpec({ port, location: path.join(dir, 'azurite') }));
  const conn = azuriteConnectionString(port);
  await ensureContainers(conn, ['media', 'exports']);
  return {
    auth0,
    recurly,
    azurite,
    env: { AUTH0_BASE_URL: auth0.url, RECURLY_BASE_URL: recurly.url, AZURE_STORAGE_CONNECTION_STRING: conn },
    async close() {
      await sup.stopAll();
      await auth0.close();
      await recurly.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
