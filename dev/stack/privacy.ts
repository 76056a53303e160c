/**
 * The embedded stack's part in keeping personal data out of the orchestration layer (issue 6):
 * the payload key its processes share, the codec server beside the Web UI, and the namespace's
 * retention. Kept apart from embedded.ts so the supervisor reads as a list of services.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { DEFAULTS, EMBEDDED_KEYS_FILE, temporalConnectionOptions, type TemporalTls } from '../../config';
import { generateKeyEntry } from '../../encryption/keys';
import type { ServiceSpec } from './supervisor';
import { isListening } from './net';
import { PROJECT_ROOT } from './temporal';

/**
 * The key variables every child gets: the caller's keys when configured, otherwise a
 * development key generated on the first start and kept in the state dir (mode 0600), so
 * histories written before a restart stay readable. Unused variables are set empty so a
 * different setting inherited from the parent's environment cannot shadow them.
 */
export function encryptionEnv(stateDir: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const keyId = env.LETHE_ENCRYPTION_KEY_ID ?? '';
  if (env.LETHE_ENCRYPTION_KEYS) return { LETHE_ENCRYPTION_KEYS: env.LETHE_ENCRYPTION_KEYS, LETHE_ENCRYPTION_KEYS_FILE: '', LETHE_ENCRYPTION_KEY_ID: keyId };
  if (env.LETHE_ENCRYPTION_KEYS_FILE) return { LETHE_ENCRYPTION_KEYS: '', LETHE_ENCRYPTION_KEYS_FILE: env.LETHE_ENCRYPTION_KEYS_FILE, LETHE_ENCRYPTION_KEY_ID: keyId };
  const file = path.join(stateDir, EMBEDDED_KEYS_FILE);
  if (!fs.existsSync(file)) {
    const note = '# Development payload keys of the embedded stack (keyid:base64key, first is current).\n# Losing this file makes existing histories unreadable; never use it in production.\n';
    // 'wx': two stacks starting on one state dir cannot both write (and disagree on) a key.
    try {
      fs.writeFileSync(file, `${note}${generateKeyEntry('dev')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return { LETHE_ENCRYPTION_KEYS: '', LETHE_ENCRYPTION_KEYS_FILE: file, LETHE_ENCRYPTION_KEY_ID: keyId };
}

export function codecPortOf(explicit: number | undefined, env: NodeJS.ProcessEnv): number {
  if (explicit !== undefined) return explicit;
  return env.LETHE_CODEC_PORT ? Number(env.LETHE_CODEC_PORT) : DEFAULTS.codecPort;
}

/** `env` is the services' environment; the caller's codec settings (token, origins) are added. */
export function codecServerSpec(opts: { port: number; uiPort: number; env: NodeJS.ProcessEnv; callerEnv: NodeJS.ProcessEnv }): ServiceSpec {
  const passed = ['LETHE_CODEC_HOST', 'LETHE_CODEC_ALLOWED_ORIGINS', 'LETHE_CODEC_TOKEN'].filter((v) => opts.callerEnv[v]);
  return {
    name: 'codec-server',
    command: process.execPath,
    args: ['--import', 'tsx', path.join(PROJECT_ROOT, 'client', 'codec-server-main.ts')],
    cwd: PROJECT_ROOT,
    env: {
      ...opts.env,
      ...Object.fromEntries(passed.map((v) => [v, opts.callerEnv[v]])),
      LETHE_CODEC_PORT: String(opts.port),
      // The default allowed origins are the Web UI's, on whatever port it runs.
      TEMPORAL_UI_PORT: String(opts.uiPort),
    },
    ready: () => isListening(opts.port),
    readyTimeoutMs: 60_000,
    restartOnCrash: true,
  };
}

/**
 * Closed workflow histories are deleted after `days`. They hold only ciphertext and ids, but
 * a key leak later would open every history still kept, and a receipt in lethe.receipts is
 * the durable proof of a deletion: history need not outlive the operators' debugging window.
 */
export async function setNamespaceRetention(address: string, namespace: string, days: number, tls?: TemporalTls): Promise<void> {
  // `tls`: an external TEMPORAL_ADDRESS reached with TLS or an API key (config/temporal-tls.ts).
  const connection = await Connection.connect({ ...temporalConnectionOptions({ address, namespace, tls }), connectTimeout: 5_000 });
  try {
    await connection.workflowService.updateNamespace({
      namespace,
      config: { workflowExecutionRetentionTtl: msToTs(days * 86_400_000) },
    });
  } finally {
    await connection.close();
  }
}
