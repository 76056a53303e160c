/** Runs the Recurly sandbox as its own process (the embedded stack starts it this way). */
import { envPort, envPositiveInt, envString, SandboxEnvError, serveUntilSignal } from '../common/main';
import { startRecurlySandbox } from './server';

function main(): void {
  let port: number;
  let rateLimitPerMinute: number | undefined;
  try {
    port = envPort(process.env, 'RECURLY_SANDBOX_PORT', 4011);
    rateLimitPerMinute = envPositiveInt(process.env, 'RECURLY_SANDBOX_RATE_LIMIT');
  } catch (err) {
    if (err instanceof SandboxEnvError) {
      process.stderr.write(`recurly sandbox: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const apiKey = envString(process.env, 'RECURLY_API_KEY', 'lethe-dev-key');
  const host = envString(process.env, 'RECURLY_SANDBOX_HOST', '127.0.0.1');
  serveUntilSignal('recurly', () => startRecurlySandbox({ port, host, apiKey, rateLimitPerMinute }), {
    rateLimitPerMinute: rateLimitPerMinute ?? 400,
  });
}

main();
