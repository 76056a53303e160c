/**
 * `npm start`: the whole embedded stack and the service, supervised until Ctrl-C or SIGTERM,
 * which stops every child it started.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, DEFAULTS, loadConfig } from '../config';
import { DEFAULT_PORTS, startStack, StackPorts } from '../dev/stack/embedded';
import { isListening } from '../dev/stack/net';
import { codecPortOf } from '../dev/stack/privacy';

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
    mailSmtp: num('LETHE_MAILPIT_SMTP_PORT', DEFAULTS.mailSmtpPort),
    mailHttp: num('LETHE_MAILPIT_HTTP_PORT', DEFAULTS.mailHttpPort),
  };
}

/** A component that cannot start, said in one line: which, why, and what to do. */
class StartFailure extends Error {}

/**
 * The ports the stack is about to listen on, with the component, the variable that moves it and
 * the variable that replaces the component. A port taken by another program is the commonest
 * reason a component does not come up, and its own log says so only in passing.
 */
function portsToClaim(ports: StackPorts, env: NodeJS.ProcessEnv): { what: string; port: number; moveWith: string; replaceWith?: string }[] {
  const external = (v: string) => Boolean(env[v]);
  return [
    { what: 'Temporal', port: ports.temporal, moveWith: 'LETHE_TEMPORAL_PORT', replaceWith: 'TEMPORAL_ADDRESS', skip: external('TEMPORAL_ADDRESS') },
    { what: 'Temporal Web UI', port: ports.temporalUi, moveWith: 'TEMPORAL_UI_PORT', skip: external('TEMPORAL_ADDRESS') },
    { what: 'Codec server', port: codecPortOf(undefined, env), moveWith: 'LETHE_CODEC_PORT', skip: external('TEMPORAL_ADDRESS') },
    { what: 'PostgreSQL', port: ports.postgres, moveWith: 'LETHE_POSTGRES_PORT', replaceWith: 'DATABASE_URL', skip: external('DATABASE_URL') },
    { what: 'Azurite', port: ports.azurite, moveWith: 'LETHE_AZURITE_PORT', replaceWith: 'AZURE_STORAGE_CONNECTION_STRING', skip: external('AZURE_STORAGE_CONNECTION_STRING') },
    { what: 'Auth0 sandbox', port: ports.auth0, moveWith: 'LETHE_AUTH0_SANDBOX_PORT', replaceWith: 'AUTH0_BASE_URL', skip: external('AUTH0_BASE_URL') },
    { what: 'Recurly sandbox', port: ports.recurly, moveWith: 'LETHE_RECURLY_SANDBOX_PORT', replaceWith: 'RECURLY_BASE_URL', skip: external('RECURLY_BASE_URL') },
    { what: 'Mailpit (SMTP)', port: ports.mailSmtp ?? DEFAULTS.mailSmtpPort, moveWith: 'LETHE_MAILPIT_SMTP_PORT', replaceWith: 'SMTP_URL', skip: external('SMTP_URL') || external('SMTP_URL_FILE') },
    {
      what: 'Mailpit (web page and API)',
      port: ports.mailHttp ?? DEFAULTS.mailHttpPort,
      moveWith: 'LETHE_MAILPIT_HTTP_PORT',
      replaceWith: 'SMTP_URL',
      skip: external('SMTP_URL') || external('SMTP_URL_FILE'),
    },
    { what: 'Lethe API', port: ports.api, moveWith: 'LETHE_API_PORT' },
  ].filter((p) => !p.skip);
}

async function checkPortsFree(ports: StackPorts, env: NodeJS.ProcessEnv): Promise<void> {
  // Not the worker's metrics port: the worker runs on without /metrics when it is taken.
  for (const p of portsToClaim(ports, env)) {
    if (await isListening(p.port))
      throw new StartFailure(
        `${p.what} cannot start: port ${p.port} on 127.0.0.1 is taken by another program (another \`npm start\`?); stop it, or set ${p.moveWith} to a free port${p.replaceWith ? ` (or ${p.replaceWith} to use one you run)` : ''}`,
      );
  }
}

/** What to do when a process of the stack does not come up, by its supervisor name (beyond reading its log). */
const REMEDIES: Record<string, (state: string) => string> = {
  postgres: (state) => `if it says the cluster is damaged, move ${state}/postgres away to start a fresh one (its rows are lost), or set DATABASE_URL`,
  temporal: (state) => `if it says its database is damaged, move ${state}/temporal away (workflow histories are lost), or set TEMPORAL_ADDRESS`,
  azurite: () => 'or set AZURE_STORAGE_CONNECTION_STRING to use a storage account of your own',
  mailpit: (state) => `if it says its database is damaged, move ${state}/mailpit away (the caught mail is lost), or set SMTP_URL to a mail server of your own`,
  worker: () => 'it names the variable or dependency it could not use',
  api: () => 'it names the variable or dependency it could not use',
};

/**
 * The supervisor's "<service> did not start: <how it ended>; last lines:\n<log tail>" made into
 * one line with the cause out of the log and what to do; the tail stays below it for detail.
 */
function describeStartFailure(message: string, logDir: string): string {
  const [head, ...rest] = message.split('\n');
  const m = /^(\S+) (did not start: .*?|was not ready after .*?)(?:; last lines:)?$/.exec(head);
  if (!m) return message;
  const [, name, what] = m;
  const cause = rest.map((l) => l.trim()).find((l) => /FATAL|PANIC|panic:|fatal error|Error|error:|could not|denied|EADDRINUSE/i.test(l));
  const file = path.join(logDir, `${name}.log`);
  const shown = (p: string) => (path.relative(process.cwd(), p).startsWith('..') ? p : path.relative(process.cwd(), p));
  const todo = [`read ${shown(file)}`, REMEDIES[name]?.(shown(path.dirname(logDir)))].filter(Boolean).join('; ');
  const first = `${name} ${what}${cause ? ` (${cause.length > 200 ? `${cause.slice(0, 200)}…` : cause})` : ''}; to fix: ${todo}`;
  return rest.length ? `${first}\n${rest.map((l) => `    ${l}`).join('\n')}` : first;
}

async function main(): Promise<void> {
  // Validate the caller's environment first: a bad variable is a one-line error, not a crash later.
  const config = loadConfig(process.env, { apiTokensFallback: ['embedded-stack-generated-token'] });
  const ports = portsFromEnv();
  await checkPortsFree(ports, process.env);
  const started = Date.now();
  const stack = await startStack({
    stateDir: config.stateDir,
    ports,
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
    ...relocatedCluster(config.stateDir),
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
  const message = err instanceof ConfigError || err instanceof StartFailure ? err.message : describeStartFailure(String(err?.message ?? err), path.join(stateDirOf(), 'logs'));
  process.stderr.write(`lethe: ${message}\n`);
  process.exit(1);
});

/** As root in a folder closed to others, the cluster lives outside the state dir (dev/stack/postgres.ts): say where. */
function relocatedCluster(stateDir: string): string[] {
  const link = path.join(stateDir, 'postgres');
  if (!fs.lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) return [];
  return [`  Database:  ${fs.realpathSync(link)}  (PostgreSQL runs as nobody, who cannot enter this folder; ${path.relative(process.cwd(), link)} links to it)`];
}

function stateDirOf(): string {
  try {
    return loadConfig(process.env, { apiTokensFallback: ['x'] }).stateDir;
  } catch {
    return '.lethe';
  }
}
