/** Runs the Auth0 sandbox as its own process (the embedded stack starts it this way). */
import { envPort, envPositiveInt, envString, SandboxEnvError, serveUntilSignal } from '../common/main';
import { AUTH0_PLANS, DEFAULT_SEARCH_LAG_MS, startAuth0Sandbox, type Auth0Plan } from './server';

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
  let plan: Auth0Plan | undefined;
  let rateBurst: number | undefined;
  let searchLagMs: number | undefined;
  try {
    port = envPort(process.env, 'AUTH0_SANDBOX_PORT', 4010);
    rateLimitPerSecond = envPositiveInt(process.env, 'AUTH0_SANDBOX_RATE_LIMIT');
    enterprise = envBool(process.env, 'AUTH0_SANDBOX_ENTERPRISE');
    checkScopes = envBool(process.env, 'AUTH0_SANDBOX_CHECK_SCOPES');
    exactEmailMatch = envBool(process.env, 'AUTH0_SANDBOX_EXACT_EMAIL');
    const planRaw = process.env.AUTH0_SANDBOX_PLAN;
    if (planRaw) {
      if (!(planRaw in AUTH0_PLANS)) throw new SandboxEnvError('AUTH0_SANDBOX_PLAN', `expected one of ${Object.keys(AUTH0_PLANS).join(', ')}, got "${planRaw}"`);
      plan = planRaw as Auth0Plan;
    }
    rateBurst = envPositiveInt(process.env, 'AUTH0_SANDBOX_RATE_BURST');
    const lagRaw = process.env.AUTH0_SANDBOX_SEARCH_LAG_MS;
    if (lagRaw !== undefined && lagRaw !== '') {
      if (!/^\d+$/.test(lagRaw)) throw new SandboxEnvError('AUTH0_SANDBOX_SEARCH_LAG_MS', `expected a whole number of milliseconds, got "${lagRaw}"`);
      searchLagMs = Number(lagRaw);
    }
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
  serveUntilSignal('auth0', () => startAuth0Sandbox({ port, host, clientId, clientSecret, rateLimitPerSecond, plan, rateBurst, searchLagMs, enterprise, checkScopes, exactEmailMatch, scopes }), {
    clientId,
    plan: plan ?? 'none',
    rateLimitPerSecond: rateLimitPerSecond ?? (plan ? AUTH0_PLANS[plan].perSecond : 16),
    searchLagMs: searchLagMs ?? DEFAULT_SEARCH_LAG_MS,
    enterprise: enterprise ?? false,
    checkScopes: checkScopes ?? true,
    exactEmailMatch: exactEmailMatch ?? true,
  });
}

main();
