/**
 * `npm start`: the whole embedded stack and the service, supervised until Ctrl-C or SIGTERM,
 * which stops every child it started.
 */
import path from 'node:path';
import { ConfigError, loadConfig } from '../config';
import { DEFAULT_PORTS, startStack, StackPorts } from '../dev/stack/embedded';

function portsFromEnv(): StackPorts {
  const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
  return {
    temporal: num('LETHE_TEMPORAL_PORT', DEFAULT_PORTS.temporal),
    temporalUi: num('TEMPORAL_UI_PORT', DEFAULT_PORTS.temporalUi),
    postgres: num('LETHE_POSTGRES_PORT', DEFAULT_PORTS.postgres),
    azurite: num('LETHE_AZURITE_PORT', DEFAULT_PORTS.azurite),
    auth0: num('LETHE_AUTH0_SANDBOX_PORT', DEFAULT_PORTS.auth0),
    recurly: num('LETHE_RECURLY_SANDBOX_PORT', DEFAULT_PORTS.recurly),
    api: num('LETHE_API_PORT', DEFAULT_PORTS.api),
  };
}

async function main(): Promise<void> {
  // Validate the caller's environment first: a bad variable is a one-line error, not a crash later.
  const config = loadConfig(process.env, { apiTokensFallback: ['embedded-stack-generated-token'] });
  const started = Date.now();
  const stack = await startStack({
    stateDir: config.stateDir,
    ports: portsFromEnv(),
    durable: true,
    withWorker: true,
    withApi: true,
  });

  const rows = stack.endpoints.map((e) => [e.name, e.where, e.note ?? '']);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const out = [
    '',
    `Lethe is up (${Math.round((Date.now() - started) / 1000)}s). State: ${path.relative(process.cwd(), config.stateDir) || '.'}`,
    '',
    ...rows.map((r) => `  ${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`.trimEnd()),
    '',
    `  API token: ${stack.apiToken}${process.env.LETHE_API_TOKENS ? '' : `  (also in ${path.join(path.relative(process.cwd(), config.stateDir), 'api-token')})`}`,
    `  Logs:      ${path.relative(process.cwd(), path.join(config.stateDir, 'logs'))}/`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(out.join('\n'));

  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${sig}: stopping the stack\n`);
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`lethe: ${err instanceof ConfigError ? err.message : (err?.message ?? err)}\n`);
  process.exit(1);
});
