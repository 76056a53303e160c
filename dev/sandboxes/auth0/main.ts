/** Runs the Auth0 sandbox as its own process (the embedded stack starts it this way). */
import { envPort, envPositiveInt, envString, SandboxEnvError, serveUntilSignal } from '../common/main';
import { startAuth0Sandbox } from './server';

/** "true" / "false"; unset keeps the faithful default. */
function envBool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new SandboxEnvError(name, `expected true or false, got "${raw}"`);
}

function main(): void {
  let port: number;
  let rateLimitPerSecond: number | undefined;
  let enterprise: boolean | undefined;
  let checkScopes: boolean | undefined;
  let exactEmailMatch: boolean | undefined;
  try {
    port = envPort(process.env, 'AUTH0_SANDBOX_PORT', 4010);
    rateLimitPerSecond = envPositiveInt(process.env, 'AUTH0_SANDBOX_RATE_LIMIT');
    enterprise = envBool(process.env, 'AUTH0_SANDBOX_ENTERPRISE');
    checkScopes = envBool(process.env, 'AUTH0_SANDBOX_CHECK_SCOPES');
    exactEmailMatch = envBool(process.env, 'AUTH0_SANDBOX_EXACT_EMAIL');
  } catch (err) {
    if (err instanceof SandboxEnvError) {
      process.stderr.write(`auth0 sandbox: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const clientId = envString(process.env, 'AUTH0_CLIENT_ID', 'lethe-dev');
  const clientSecret = envString(process.env, 'AUTH0_CLIENT_SECRET', 'lethe-dev-secret');
  const host = envString(process.env, 'AUTH0_SANDBOX_HOST', '127.0.0.1');
  const scopesRaw = process.env.AUTH0_SANDBOX_SCOPES;
  const scopes = scopesRaw ? scopesRaw.split(/[\s,]+/).filter(Boolean) : undefined;
  serveUntilSignal('auth0', () => startAuth0Sandbox({ port, host, clientId, clientSecret, rateLimitPerSecond, enterprise, checkScopes, exactEmailMatch, scopes }), {
    clientId,
    rateLimitPerSecond: rateLimitPerSecond ?? 16,
    enterprise: enterprise ?? false,
    checkScopes: checkScopes ?? true,
    exactEmailMatch: exactEmailMatch ?? true,
  });
}

main();
