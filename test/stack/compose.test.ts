/**
 * docker-compose.yml describes the production stack; no engine runs here, but Debian's
 * docker-compose still parses and interpolates the file, which catches most mistakes.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;

const required = {
  AZURE_STORAGE_CONNECTION_STRING: 'DefaultEndpointsProtocol=https;AccountName=example;AccountKey=a2V5;EndpointSuffix=core.windows.net',
  AUTH0_DOMAIN: 'example.eu.auth0.com',
  AUTH0_CLIENT_ID: 'client',
  AUTH0_CLIENT_SECRET: 'secret',
  RECURLY_API_KEY: 'key',
  LETHE_ENCRYPTION_KEYS: 'k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  LETHE_API_TOKENS: 'a-long-enough-production-token',
};

const compose = (env: Record<string, string>) =>
  spawnSync('docker-compose', ['config', '-q'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, encoding: 'utf8' });

(hasCompose ? describe : describe.skip)('docker-compose.yml', () => {
  test('when every secret is given, then the file is valid', () => {
    const r = compose(required);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test('when a secret is missing, then compose refuses and names it', () => {
    const env: Record<string, string> = { ...required };
    delete env.LETHE_API_TOKENS;
    const r = compose(env);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('API token');
  });
});
