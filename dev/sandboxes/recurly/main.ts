/** Runs the Recurly sandbox as its own process (the embedded stack starts it this way). */
import { envPort, envPositiveInt, envString, SandboxEnvError, serveUntilSignal } from '../common/main';
import { DEFAULT_REDACTION_DELAY_MS, startRecurlySandbox } from './server';

function main(): void {
  let port: number;
  let rateLimitPerMinute: number | undefined;
  let redactionDelayMs = DEFAULT_REDACTION_DELAY_MS;
  let siteKind: 'sandbox' | 'production' = 'sandbox';
  try {
    port = envPort(process.env, 'RECURLY_SANDBOX_PORT', 4011);
    rateLimitPerMinute = envPositiveInt(process.env, 'RECURLY_SANDBOX_RATE_LIMIT');
    // 0 is allowed: redaction done before the 200, as the sandbox did before it was faithful.
    const delay = process.env.RECURLY_SANDBOX_REDACTION_DELAY_MS;
    if (delay !== undefined && delay !== '') {
      if (!/^\d+$/.test(delay)) throw new SandboxEnvError('RECURLY_SANDBOX_REDACTION_DELAY_MS', `expected milliseconds, got "${delay}"`);
      redactionDelayMs = Number(delay);
    }
    // api.yaml "Rate Limits": a sandbox site counts every request, a production site GETs only.
    const kind = process.env.RECURLY_SANDBOX_SITE_KIND;
    if (kind !== undefined && kind !== '') {
      if (kind !== 'sandbox' && kind !== 'production') throw new SandboxEnvError('RECURLY_SANDBOX_SITE_KIND', `expected sandbox or production, got "${kind}"`);
      siteKind = kind;
    }
  } catch (err) {
    if (err instanceof SandboxEnvError) {
      process.stderr.write(`recurly sandbox: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const apiKey = envString(process.env, 'RECURLY_API_KEY', 'lethe-dev-key');
  const host = envString(process.env, 'RECURLY_SANDBOX_HOST', '127.0.0.1');
  serveUntilSignal('recurly', () => startRecurlySandbox({ port, host, apiKey, rateLimitPerMinute, siteKind, behaviour: { redactionDelayMs } }), {
    siteKind,
    rateLimitPerMinute: rateLimitPerMinute ?? (siteKind === 'production' ? 1_000 : 400),
    redactionDelayMs,
  });
}

main();
