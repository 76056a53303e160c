/**
 * config.mail (CONTRACT §6): the embedded defaults point at the stack's own mail catcher and the
 * API's own address; a bad value is one line naming its variable; production refuses to start
 * without a mail server and an https public URL.
 */
import { ConfigError, loadConfig } from '../../config';

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

const PROD = {
  LETHE_MODE: 'production',
  LETHE_API_TOKENS: 'a-long-enough-production-token',
  DATABASE_URL: 'postgres://u:p@db:5432/app',
  AZURE_STORAGE_CONNECTION_STRING: 'DefaultEndpointsProtocol=https;AccountName=prod;AccountKey=abc;EndpointSuffix=core.windows.net',
  AUTH0_DOMAIN: 'tenant.eu.auth0.com',
  AUTH0_CLIENT_ID: 'id',
  AUTH0_CLIENT_SECRET: 'secret',
  RECURLY_API_KEY: 'key',
  LETHE_ENCRYPTION_KEYS: `prod-1:${Buffer.alloc(32, 7).toString('base64')}`,
  SMTP_URL: 'smtps://lethe:pw@mail.example.com:465',
  LETHE_PUBLIC_URL: 'https://privacy.example.com/',
};

describe('config.mail', () => {
  test('when nothing is set, then mail goes to the embedded catcher and links to the API on its default port', () => {
    expect(loadConfig({}).mail).toEqual({
      smtpUrl: 'smtp://127.0.0.1:1025',
      from: 'Lethe privacy team <privacy@lethe.test>',
      publicUrl: 'http://127.0.0.1:8080',
      privacyAddress: 'privacy@lethe.test',
      inboundSmtpPort: 2525,
    });
  });

  test('when the API or the catcher moves, then the defaults follow; a public URL loses its trailing slash; port 0 turns inbound SMTP off', () => {
    const m = loadConfig({ LETHE_API_PORT: '9090', LETHE_MAILPIT_SMTP_PORT: '2025', LETHE_INBOUND_SMTP_PORT: '0' }).mail;
    expect(m).toMatchObject({ smtpUrl: 'smtp://127.0.0.1:2025', publicUrl: 'http://127.0.0.1:9090', inboundSmtpPort: 0 });
    expect(loadConfig({ LETHE_PUBLIC_URL: 'https://privacy.example.com/lethe/' }).mail.publicUrl).toBe('https://privacy.example.com/lethe');
    expect(loadConfig({ SMTP_URL: 'smtps://u:p@mail.example.com:465', LETHE_MAIL_FROM: 'privacy@example.com' }).mail).toMatchObject({
      smtpUrl: 'smtps://u:p@mail.example.com:465',
      from: 'privacy@example.com',
    });
  });

  test.each([
    [{ SMTP_URL: 'http://mail.example.com' }, 'SMTP_URL'],
    [{ SMTP_URL: 'not a url' }, 'SMTP_URL'],
    [{ LETHE_PUBLIC_URL: 'ftp://example.com' }, 'LETHE_PUBLIC_URL'],
    [{ LETHE_MAIL_FROM: 'the privacy team' }, 'LETHE_MAIL_FROM'],
    [{ LETHE_MAIL_FROM: 'Team <privacy@example.com' }, 'LETHE_MAIL_FROM'],
    [{ LETHE_PRIVACY_ADDRESS: 'Team <privacy@example.com>' }, 'LETHE_PRIVACY_ADDRESS'],
    [{ LETHE_PRIVACY_ADDRESS: 'privacy' }, 'LETHE_PRIVACY_ADDRESS'],
    [{ LETHE_INBOUND_SMTP_PORT: 'smtp' }, 'LETHE_INBOUND_SMTP_PORT'],
    [{ LETHE_MAILPIT_SMTP_PORT: '70000' }, 'LETHE_MAILPIT_SMTP_PORT'],
  ])('when %j, then start-up fails naming %s', (env, variable) => {
    expect(errorOf(env).variable).toBe(variable);
  });

  test('when production lacks a mail server or a public URL, or the URL is plain http, then it refuses to start naming the variable', () => {
    expect(loadConfig(PROD).mail).toMatchObject({ smtpUrl: PROD.SMTP_URL, publicUrl: 'https://privacy.example.com' });
    expect(errorOf({ ...PROD, SMTP_URL: '' }).message).toMatch(/^SMTP_URL: is required in production mode/);
    expect(errorOf({ ...PROD, LETHE_PUBLIC_URL: '' }).message).toMatch(/^LETHE_PUBLIC_URL: is required in production mode/);
    expect(errorOf({ ...PROD, LETHE_PUBLIC_URL: 'http://privacy.example.com' }).message).toMatch(/^LETHE_PUBLIC_URL: must be an https: URL in production mode/);
  });
});
