import { ConfigError, type Env } from './env';
import type { Config } from './types';

/** Production must never talk to a sandbox or run open: refuse to start rather than guess. */
export function assertProduction(cfg: Config, env: Env, servesApi: boolean): void {
  if (servesApi && cfg.api.tokens.length === 0 && (cfg.api.credentials ?? []).length === 0) {
    throw new ConfigError('LETHE_API_TOKENS', 'is required in production mode (or LETHE_API_TOKENS_FILE)');
  }
  if (!env.DATABASE_URL) throw new ConfigError('DATABASE_URL', 'is required in production mode (or DATABASE_URL_FILE)');
  if (!env.AZURE_STORAGE_CONNECTION_STRING && !cfg.blob.accountUrl) {
    throw new ConfigError('AZURE_STORAGE_CONNECTION_STRING', 'is required in production mode (or AZURE_STORAGE_CONNECTION_STRING_FILE, or AZURE_STORAGE_ACCOUNT_URL for Microsoft Entra ID)');
  }
  for (const name of ['AUTH0_DOMAIN', 'AUTH0_CLIENT_ID', 'AUTH0_CLIENT_SECRET', 'RECURLY_API_KEY']) {
    if (!env[name]) throw new ConfigError(name, `is required in production mode${name === 'AUTH0_CLIENT_ID' ? '' : ` (or ${name}_FILE)`}`);
  }
  // No plaintext fallback: a worker without keys would write readable personal data into history.
  if (!cfg.encryption.keys) throw new ConfigError('LETHE_ENCRYPTION_KEYS', 'is required in production mode (or LETHE_ENCRYPTION_KEYS_FILE)');
  if (env.LETHE_SWEEP_SCOPE) throw new ConfigError('LETHE_SWEEP_SCOPE', 'limits sweeps for tests and is refused in production mode');
  if (env.AUTH0_BASE_URL) throw new ConfigError('AUTH0_BASE_URL', 'points at a sandbox and is refused in production mode');
  if (env.RECURLY_BASE_URL) throw new ConfigError('RECURLY_BASE_URL', 'points at a sandbox and is refused in production mode');
  if (/devstoreaccount1|UseDevelopmentStorage/.test(cfg.blob.connectionString)) {
    throw new ConfigError('AZURE_STORAGE_CONNECTION_STRING', 'points at the Azurite emulator and is refused in production mode');
  }
  // The person's mail (CONTRACT §6): without these, verification links and notices would go to
  // the embedded stack's loopback mail catcher, which no one reads, and point at 127.0.0.1.
  if (!env.SMTP_URL) throw new ConfigError('SMTP_URL', 'is required in production mode: the mail server Lethe sends through (smtp://user:pass@host:587 or smtps://user:pass@host:465)');
  if (!env.LETHE_PUBLIC_URL) throw new ConfigError('LETHE_PUBLIC_URL', "is required in production mode: the API's address as people reach it (https://privacy.example.com)");
  // Mailed links carry a single-use secret: never in clear over the network.
  if (!cfg.mail.publicUrl.startsWith('https://')) throw new ConfigError('LETHE_PUBLIC_URL', 'must be an https: URL in production mode (mailed links carry a secret)');
}
