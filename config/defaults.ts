/**
 * What Lethe uses when nothing is configured: the embedded stack's ports and development
 * credentials (CONTRACT §5). Production mode refuses every sandbox default (production.ts).
 */
export const DEFAULTS = {
  apiPort: 8080,
  temporalAddress: '127.0.0.1:7233',
  temporalUiPort: 8233,
  namespace: 'default',
  taskQueue: 'lethe-deletions',
  postgresPort: 5433,
  azuritePort: 10000,
  auth0Port: 4010,
  recurlyPort: 4011,
  auth0ClientId: 'lethe-dev',
  auth0ClientSecret: 'lethe-dev-secret',
  recurlyApiKey: 'lethe-dev-key',
  codecPort: 8089,
  workerMetricsPort: 9464,
  apiRateLimitPerMinute: 6000,
  retentionDays: 3,
  /** The embedded mail catcher (Mailpit, dev/stack/mailpit.ts): its SMTP port and its web page and API. */
  mailSmtpPort: 1025,
  mailHttpPort: 8025,
  mailFrom: 'Lethe privacy team <privacy@lethe.test>',
  privacyAddress: 'privacy@lethe.test',
  inboundSmtpPort: 2525,
} as const;

/** Where the embedded stack keeps its generated development key list. */
export const EMBEDDED_KEYS_FILE = 'encryption-keys';

/** Azurite's documented development account; public by design, never a real secret. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export const azuriteConnectionString = (port: number, host = '127.0.0.1'): string =>
  `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` + `BlobEndpoint=http://${host}:${port}/${AZURITE_ACCOUNT};`;

export const embeddedDatabaseUrl = (port: number): string => `postgres://lethe:lethe@127.0.0.1:${port}/lethe`;
