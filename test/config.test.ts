import { loadConfig, ConfigError } from '../config';

const prodEnv = {
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
  LETHE_PUBLIC_URL: 'https://privacy.example.com',
};

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  test('when nothing is set, then the embedded defaults of CONTRACT §5 apply', () => {
    const c = loadConfig({});
    expect(c.api.port).toBe(8080);
    expect(c.temporal.address).toBe('127.0.0.1:7233');
    expect(c.temporal.namespace).toBe('default');
    expect(c.database.url).toBe('postgres://lethe:lethe@127.0.0.1:5433/lethe');
    expect(c.blob.connectionString).toContain('BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1');
    expect(c.auth0).toMatchObject({ clientId: 'lethe-dev', clientSecret: 'lethe-dev-secret', baseUrl: 'http://127.0.0.1:4010' });
    expect(c.recurly).toMatchObject({ apiKey: 'lethe-dev-key', baseUrl: 'http://127.0.0.1:4011' });
    expect(c.deletion).toMatchObject({ deadlineHours: 72, warningHours: 48 });
  });

  test.each([
    [{ LETHE_API_PORT: 'eighty' }, 'LETHE_API_PORT'],
    [{ LETHE_API_PORT: '70000' }, 'LETHE_API_PORT'],
    [{ TEMPORAL_ADDRESS: 'localhost' }, 'TEMPORAL_ADDRESS'],
    [{ DATABASE_URL: 'mysql://x@y/z' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ AZURE_STORAGE_CONNECTION_STRING: 'hello' }, 'AZURE_STORAGE_CONNECTION_STRING'],
    [{ LETHE_DEADLINE_HOURS: '-1' }, 'LETHE_DEADLINE_HOURS'],
    [{ LETHE_WARNING_HOURS: '80' }, 'LETHE_WARNING_HOURS'],
    [{ LETHE_MODE: 'prod' }, 'LETHE_MODE'],
    [{ LETHE_API_TOKENS: 'short' }, 'LETHE_API_TOKENS'],
  ])('when %j is given, then the one-line error names %s', (env, variable) => {
    const e = errorOf(env as Record<string, string>);
    expect(e.variable).toBe(variable);
    expect(e.message.startsWith(`${variable}: `)).toBe(true);
    expect(e.message).not.toContain('\n');
  });

  test('when production mode has everything, then it starts without sandboxes', () => {
    const c = loadConfig(prodEnv);
    expect(c.auth0.baseUrl).toBeUndefined();
    expect(c.recurly.baseUrl).toBeUndefined();
  });

  test.each(['LETHE_API_TOKENS', 'DATABASE_URL', 'AUTH0_CLIENT_SECRET', 'RECURLY_API_KEY'])('when production mode lacks %s, then it refuses to start naming it', (name) => {
    const env: Record<string, string> = { ...prodEnv };
    delete env[name];
    expect(errorOf(env).variable).toBe(name);
  });

  test('when a production process serves no API, then it needs no API token', () => {
    const env: Record<string, string> = { ...prodEnv };
    delete env.LETHE_API_TOKENS;
    expect(loadConfig(env, { servesApi: false }).api.tokens).toEqual([]);
  });

  test('when production mode points at a sandbox, then it refuses to start', () => {
    expect(errorOf({ ...prodEnv, RECURLY_BASE_URL: 'http://127.0.0.1:4011' }).variable).toBe('RECURLY_BASE_URL');
    expect(errorOf({ ...prodEnv, AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' }).variable).toBe('AZURE_STORAGE_CONNECTION_STRING');
  });

  test('when production mode is given a test-only sweep scope, then it refuses to start naming it', () => {
    expect(errorOf({ ...prodEnv, LETHE_SWEEP_SCOPE: 'ab12' }).variable).toBe('LETHE_SWEEP_SCOPE');
  });
});
