/** Runs the Auth0 sandbox as its own process (the embedded stack starts it this way). */
import { envPort, envPositiveInt, envString, SandboxEnvError, serveUntilSignal } from '../common/main';
import { startAuth0Sandbox } from './server';

function main(): void {
  let port: number;
  let rateLimitPerSecond: number | undefined;
  try {
    port = envPort(process.env, 'AUTH0_SANDBOX_PORT', 4010);
    rateLimitPerSecond = envPositiveInt(process.env, 'AUTH0_SANDBOX_RATE_LIMIT');
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
  serveUntilSignal('auth0', () => startAuth0Sandbox({ port, host, clientId, clientSecret, rateLimitPerSecond }), {
    clientId,
    rateLimitPerSecond: rateLimitPerSecond ?? 16,
  });
}

main();
