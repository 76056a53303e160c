/**
 * Every environment variable Lethe reads, with its default and what it means: the source of
 * docs/configuration.md (`npm run docs:config` writes it; scripts/config-doc.ts). The parsing
 * stays in loadConfig and its helpers; test/config-doc.test.ts fails when a variable they read
 * is missing here, when one listed here is read nowhere, or when the document differs from what
 * this list generates, so the document cannot drift from the code.
 *
 * Markdown in `default` and `meaning`; `|` is escaped by the generator.
 */

export interface Setting {
  /** The environment variable. */
  readonly name: string;
  /** What applies when it is unset (the embedded stack's value where it differs). */
  readonly default: string;
  /** What it sets, and who reads it when not every process does. */
  readonly meaning: string;
  /** A secret: may instead be read from the file `<name>_FILE` names (a mounted Docker or Kubernetes secret); set one of the two. */
  readonly secret?: boolean;
}

export const SETTINGS: readonly Setting[] = [
  // The process and the embedded stack
  { name: 'LETHE_MODE', default: '`embedded`', meaning: '`production` refuses sandboxes, Azurite, and a missing token or credential' },
  { name: 'LETHE_STATE_DIR', default: '`.lethe`', meaning: 'local state of the embedded stack' },
  {
    name: 'LETHE_STARTUP_WAIT',
    default: '5m in production, 60s under `npm start`, 0 otherwise',
    meaning: 'how long the worker waits (retrying with backoff) for Temporal and PostgreSQL at start before it exits for its supervisor to restart it',
  },
  {
    name: 'LETHE_LOG_LEVEL',
    default: '`INFO`',
    meaning: "the worker's and the API's log level (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`); every line passes the redactor ([privacy](privacy.md#logs))",
  },

  // The HTTP API and who may call it
  { name: 'LETHE_API_HOST', default: '127.0.0.1', meaning: 'address the HTTP API listens on' },
  { name: 'LETHE_API_PORT', default: '8080', meaning: 'port of the HTTP API (the CLI also uses it when `LETHE_API_URL` is unset)' },
  {
    name: 'LETHE_API_TOKENS',
    default: '`embedded-admin:admin:sha256:…` (the hash of the generated `.lethe/api-token`)',
    meaning:
      'named tokens `name:role:sha256:<hex of SHA-256(token)>`, comma-separated; role `requester`, `operator` or `admin` ([security](security.md#tokens-roles-and-the-audit-trail)). A plaintext token (16+ chars, the earlier format) still works, as `admin`; required in production',
  },
  {
    name: 'LETHE_API_TOKENS_FILE',
    default: 'none',
    meaning:
      'a mounted file of the same entries, one a line (`#` comments); hashed entries only. The one `_FILE` that adds to its variable rather than replacing it (the embedded stack sets `LETHE_API_TOKENS` for its own token)',
  },
  { name: 'LETHE_API_RATE_LIMIT', default: '6000', meaning: 'requests per minute for each token (and for each address without a valid token)' },
  {
    name: 'LETHE_AUDIT_RETENTION_DAYS',
    default: '400',
    meaning: 'how long the audit trail (`lethe.audit_log`) and the operator actions (`lethe.operator_actions`) keep entries; the API prunes older ones every minute',
  },
  {
    name: 'LETHE_TWIN_GUARD_DAYS',
    default: '90',
    meaning:
      "how long, after a deletion completes, the deleted person's email (a keyed hash in `lethe.deleted_email_hashes`) still counts when a request by email is resolved: within it, a case twin of that address is refused as ambiguous (409) instead of being taken for the deleted person; the API prunes older hashes every minute",
  },
  // The front door: requests from the person, confirmed by a mailed link (CONTRACT §6)
  { name: 'LETHE_VERIFICATION_TTL', default: '24h', meaning: 'how long the link mailed to confirm a request from the person works; an unconfirmed request then expires and is counted' },
  { name: 'LETHE_VERIFICATION_REMINDER', default: '6h', meaning: 'how long before the link expires its one reminder is mailed, if it is still unused; `off`: no reminder' },
  { name: 'LETHE_VERIFICATION_MAX_ATTEMPTS', default: '5', meaning: 'wrong or tampered links for one request before it locks (the person then asks again)' },
  {
    name: 'LETHE_PUBLIC_RATE_LIMIT',
    default: '10',
    meaning: 'requests a minute each client address may make to the public routes (`/privacy`, `/v1/public/requests`); beyond it `429` with `Retry-After`',
  },
  { name: 'LETHE_PUBLIC_ADDRESS_LIMIT', default: '3', meaning: 'public requests an hour for one email address, whoever sends them; beyond it `429` with `Retry-After`' },
  {
    name: 'LETHE_ADDRESS_CHANGE_HOLD',
    default: '72h',
    meaning:
      'a request from the person for an account whose address changed this recently waits for an operator instead of mailing a link (a changed address is how account takeovers end in deletions); `0s` turns it off',
  },
  {
    name: 'LETHE_EMAIL_VERIFIED_TOKENS',
    default: 'none',
    meaning:
      'names of API tokens (comma-separated) whose deletion requests are always verified by a link mailed to the account (`verification: "email"`); such a token asking for `"staff"` gets `400`. For a support desk whose callers are not checked otherwise',
  },
  {
    name: 'LETHE_ADDRESS_WATCH_EVERY',
    default: '1h',
    meaning:
      "how often the API reads every account's address into `lethe.address_watch` (a keyed hash and since when), which is how Lethe sees an address change; a change before its first read is not seen",
  },
  {
    name: 'LETHE_ABANDONED_SUBJECT_DAYS',
    default: '30',
    meaning: "how long the sealed subject of a deletion that ended unfinished (terminated, failed) and was not resumed is kept for a retry; the API's maintenance pass erases it after that",
  },

  // The privacy console (docs/console.md)
  { name: 'LETHE_CONSOLE_DUE_SOON', default: '24', meaning: 'hours left before the deadline under which the console counts an open request as *due soon*' },
  { name: 'LETHE_CONSOLE_SESSION_HOURS', default: '8', meaning: 'how long a console session lasts after sign-in (the token is exchanged once; sign-out ends it sooner)' },
  {
    name: 'LETHE_CONSOLE_SECURE_COOKIE',
    default: '`auto`',
    meaning: "`auto`: the console's session cookie is `Secure` when the request came over TLS; `always`: always (set it behind a proxy that terminates TLS)",
  },

  // The CLI
  { name: 'LETHE_API_URL', default: 'http://127.0.0.1:8080', meaning: 'CLI only: the API it calls' },
  { name: 'LETHE_API_TOKEN', default: '`.lethe/api-token` of this checkout', meaning: 'CLI only: the token it sends', secret: true },
  { name: 'LETHE_OPERATOR', default: 'the OS user', meaning: 'CLI only: who `lethe schedule` records in the audit trail as `cli:<operator>@<host>`' },

  // The worker
  { name: 'LETHE_WORKER_METRICS_HOST', default: '127.0.0.1', meaning: "address of the worker's `/metrics` (Lethe's and the Temporal SDK's)" },
  { name: 'LETHE_WORKER_METRICS_PORT', default: '9464', meaning: "port of the worker's `/metrics`; `0` turns it off" },
  {
    name: 'LETHE_WORKFLOW_BUNDLE',
    default: 'none (the image sets `/app/dist/workflow-bundle.js`)',
    meaning: "a workflow bundle built beforehand (`node dist/worker/bundle.js <out.js>`); unset, the worker builds one in a child process at start, so webpack's memory never stays in the worker's",
  },
  {
    name: 'LETHE_WORKER_MAX_CACHED_WORKFLOWS',
    default: '20',
    meaning: "deletions kept in the worker's workflow cache; the rest are replayed from history when needed ([sizing](operations.md#sizing-the-worker))",
  },
  { name: 'LETHE_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS', default: '10', meaning: 'workflow tasks at once (at least 2, at most the cache size)' },
  { name: 'LETHE_WORKER_MAX_CONCURRENT_ACTIVITIES', default: '20', meaning: 'main-queue activities at once (media, rows, freeze, receipts)' },

  // The worker deployment (docs/releasing.md)
  {
    name: 'LETHE_WORKER_VERSIONING',
    default: 'on',
    meaning: '`on`: the worker runs as a version of a Temporal worker deployment, and a deletion stays on the version it started on; `off`: unversioned',
  },
  { name: 'LETHE_DEPLOYMENT_NAME', default: 'the task queue (`LETHE_TASK_QUEUE`)', meaning: "the worker deployment's name (letters, digits, `_`, `-`; no dot)" },
  {
    name: 'LETHE_BUILD_ID',
    default: '`<package version>-<commit>`, e.g. `1.0.0-07a3e83`',
    meaning: "this worker's build id within the deployment; required in production when the commit is unknown (the image sets it from its build argument)",
  },
  {
    name: 'LETHE_DEPLOYMENT_SET_CURRENT',
    default: '`always` in the embedded stack, `if-unset` in production',
    meaning: "who makes this worker's version the deployment's current one: `always` (at start), `if-unset` (only on a first deploy), `never` (the release procedure does)",
  },

  // Temporal
  { name: 'TEMPORAL_ADDRESS', default: '127.0.0.1:7233', meaning: 'the Temporal frontend; set: no dev server is started' },
  { name: 'TEMPORAL_NAMESPACE', default: 'default', meaning: 'the Temporal namespace' },
  {
    name: 'TEMPORAL_TLS_CA',
    default: 'none',
    meaning: "file: the CA that signed the Temporal frontend's certificate (PEM); unset with TLS on: the system's CAs ([security](security.md#secure-connections))",
  },
  { name: 'TEMPORAL_TLS_CERT', default: 'none', meaning: 'file: the client certificate for mutual TLS' },
  { name: 'TEMPORAL_TLS_KEY', default: 'none', meaning: "file: the client certificate's key (checked to match at start)" },
  { name: 'TEMPORAL_TLS_SERVER_NAME', default: 'the host of `TEMPORAL_ADDRESS`', meaning: "the name the frontend's certificate is checked against" },
  {
    name: 'TEMPORAL_TLS',
    default: 'on when any `TEMPORAL_TLS_*` or an API key is set',
    meaning: "`true`: TLS with the system's CAs and nothing else set; `false`: an API key over plain text (a server of your own)",
  },
  {
    name: 'TEMPORAL_API_KEY',
    default: 'none',
    meaning: 'Temporal Cloud API key (sent as `Authorization: Bearer`; turns TLS on); `TEMPORAL_API_KEY_FILE` is re-read when it changes',
    secret: true,
  },
  {
    name: 'LETHE_TEMPORAL',
    default: '`dev`',
    meaning:
      'embedded stack only: `server` runs the production-shaped Temporal (server 1.29.1 on PostgreSQL with SQL visibility, its UI, two workers; see [production shape](operations.md#production-shape)) instead of the dev server',
  },
  { name: 'LETHE_TEMPORAL_PORT', default: '7233', meaning: "`npm start` only: port of the embedded Temporal's frontend" },
  { name: 'TEMPORAL_UI_PORT', default: '8233', meaning: 'Web UI of the embedded Temporal (and the origin the codec server allows)' },
  {
    name: 'LETHE_TASK_QUEUE',
    default: 'lethe-deletions',
    meaning: "worker task queue; the vendors' queues are named after it (`-auth0`, `-auth0-read-back`, `-recurly`, `-recurly-read-back`, `-recurly-sweep`)",
  },
  { name: 'LETHE_RETENTION_DAYS', default: '3', meaning: 'how long Temporal keeps closed histories (set on the namespace at start)' },

  // PostgreSQL and Blob Storage
  {
    name: 'DATABASE_URL',
    default: 'postgres://lethe:lethe@127.0.0.1:5433/lethe',
    meaning: 'it carries the password; set: no embedded PostgreSQL. TLS: `?sslmode=verify-full&sslrootcert=/path/ca.pem` (also `require`, `verify-ca`, `disable`); required in production',
    secret: true,
  },
  { name: 'LETHE_POSTGRES_PORT', default: '5433', meaning: 'port of the embedded PostgreSQL' },
  {
    name: 'AZURE_STORAGE_CONNECTION_STRING',
    default: 'Azurite on 127.0.0.1:10000',
    meaning: 'it carries the account key; set: no Azurite; required in production unless `AZURE_STORAGE_ACCOUNT_URL` is set',
    secret: true,
  },
  {
    name: 'AZURE_STORAGE_ACCOUNT_URL',
    default: 'unset',
    meaning:
      "used when `AZURE_STORAGE_CONNECTION_STRING` is unset: the account's blob endpoint (`https://<account>.blob.core.windows.net`), signed in with Microsoft Entra ID through `DefaultAzureCredential` (managed identity, workload identity, or `AZURE_CLIENT_ID`/`AZURE_TENANT_ID`/`AZURE_CLIENT_SECRET`); the identity needs Storage Blob Data Owner ([operations](operations.md#blob-storage-access)); the worker checks at start that it can delete a previous version; set: no Azurite, the embedded stack uses the account too",
  },
  { name: 'LETHE_AZURITE_PORT', default: '10000', meaning: 'port of the embedded Azurite' },
  { name: 'LETHE_BLOB_CONTAINERS', default: 'media,exports', meaning: 'containers holding `accounts/{id}/` prefixes' },
  { name: 'LETHE_BLOB_PAGE_SIZE', default: '5000', meaning: 'listing page size (Azure caps it at 5000)' },
  { name: 'LETHE_BLOB_BATCH_CONCURRENCY', default: '8', meaning: 'Blob Batch requests in flight per deletion' },
  // Access requests (CONTRACT §8, docs/access.md)
  {
    name: 'LETHE_ACCESS_CONTAINER',
    default: '`lethe-access`',
    meaning: "the private container of Lethe's own where access archives are written (never one of `LETHE_BLOB_CONTAINERS`); created on first use",
  },
  {
    name: 'LETHE_ACCESS_PART_MB',
    default: '2048',
    meaning: 'the size in MiB past which an access archive starts a new part (a ZIP of its own); a single media file larger than it gets a part to itself',
  },
  {
    name: 'LETHE_ACCESS_LINK_TTL',
    default: '7d',
    meaning: "how long the read-only link to an access archive (a SAS URL, mailed to the account's address) works; the workflow deletes the archive when it expires",
  },

  // Auth0 and Recurly
  { name: 'AUTH0_DOMAIN', default: 'the sandbox', meaning: "the tenant's domain for the Management API; required in production" },
  { name: 'AUTH0_CLIENT_ID', default: 'lethe-dev', meaning: 'Management API client (client credentials grant)' },
  { name: 'AUTH0_CLIENT_SECRET', default: 'lethe-dev-secret', meaning: "that client's secret", secret: true },
  { name: 'AUTH0_BASE_URL', default: 'http://127.0.0.1:4010', meaning: "sandbox only (refused in production): where the SDK's requests go" },
  { name: 'LETHE_AUTH0_SANDBOX_PORT', default: '4010', meaning: 'port of the local Auth0 sandbox' },
  {
    name: 'LETHE_AUTH0_SEARCH_LAG_MS',
    default: '2000',
    meaning:
      "how long after a write Auth0's user search may still not show it (Auth0 documents search as eventually consistent, without a figure): a search that may prove an absence is made this long after the look began",
  },
  {
    name: 'LETHE_AUTH0_LOG_RETENTION_DAYS',
    default: '30',
    meaning: "the tenant's log retention (Free 1, Essentials 5, Professional 10, Enterprise 30 days): the receipt says by when the tenant logs, which the API cannot delete, have expired",
  },
  { name: 'RECURLY_API_KEY', default: 'lethe-dev-key', meaning: 'Recurly v3 API key', secret: true },
  { name: 'RECURLY_BASE_URL', default: 'http://127.0.0.1:4011', meaning: 'sandbox only (refused in production)' },
  { name: 'LETHE_RECURLY_SANDBOX_PORT', default: '4011', meaning: 'port of the local Recurly sandbox' },
  {
    name: 'RECURLY_REGION',
    default: 'us',
    meaning:
      "the Recurly site's region, `us` or `eu` (the SDK's `region`: v3.recurly.com or v3.eu.recurly.com); an EU site's key is refused (401, `Unauthorized`, the store shows blocked) on the US host",
  },
  { name: 'LETHE_RECURLY_REFUND', default: 'none', meaning: 'refund for terminated subscriptions: none, partial, full' },
  {
    name: 'RECURLY_SITE_KIND',
    default: 'sandbox',
    meaning:
      "the Recurly site's kind, `sandbox` or `production`: a sandbox site's rate limit counts every request, a production site's only GETs, so there Lethe's writes are not paced (api.yaml \"Rate Limits\"); `sandbox` is the safe side",
  },

  // The vendors' rate budget (docs/architecture.md, "Vendor rate budget")
  { name: 'LETHE_AUTH0_RATE_PER_SECOND', default: '16', meaning: "the Auth0 tenant's Management API limit, for the whole deployment ([rate budget](architecture.md#vendor-rate-budget))" },
  {
    name: 'LETHE_RECURLY_RATE_PER_MINUTE',
    default: '400',
    meaning: "the Recurly site's limit (400 sandbox, 1,000 production GETs; 1,000 by default when `RECURLY_SITE_KIND` is `production`), for the whole deployment",
  },
  {
    name: 'LETHE_AUTH0_RATE_HEADROOM',
    default: '10',
    meaning: "percent of Auth0's limit left unspent, to other clients of the tenant and to bursts: Auth0's window is a second, into which one deletion step puts 5–7 calls, so it gets more",
  },
  { name: 'LETHE_RECURLY_RATE_HEADROOM', default: '3', meaning: "percent of Recurly's limit left unspent" },
  {
    name: 'LETHE_AUTH0_CALLS_PER_DELETION',
    default: '7',
    meaning: 'mean calls one deletion makes to Auth0, its deletion step and its read-back together (add 2 on an Enterprise plan with the session layer; raise for accounts with many linked logins)',
  },
  {
    name: 'LETHE_RECURLY_CALLS_PER_DELETION',
    default: '6',
    meaning: 'the same for Recurly (raise for accounts with many subscriptions); on a production site only GETs count, 4 by default',
  },
  {
    name: 'LETHE_RECURLY_SWEEP_CALLS_PER_DELETION',
    default: '5',
    meaning:
      "calls to Recurly of a deletion only the inactivity sweep asked for (its re-check lists the subscriptions; the account has none live), which set the rate of Recurly's sweep queue, `<LETHE_TASK_QUEUE>-recurly-sweep`; on a production site 4 GETs by default",
  },
  { name: 'LETHE_AUTH0_CONCURRENCY', default: '10', meaning: "Auth0 activities at once per worker process, on each of the vendor's two queues" },
  { name: 'LETHE_RECURLY_CONCURRENCY', default: '10', meaning: "Recurly activities at once per worker process, on each of the vendor's three queues (deletions, read-backs, the sweep's deletions)" },

  // The deletion
  { name: 'LETHE_DEADLINE_HOURS', default: '72', meaning: 'the deadline, from `receivedAt`' },
  { name: 'LETHE_WARNING_HOURS', default: '48', meaning: 'the deadline warning, from `receivedAt` (less than the deadline)' },
  {
    name: 'LETHE_WEBHOOK_URL',
    default: 'none',
    meaning: "operators' webhook for deadline warnings and breaches, and stores turning blocked ([webhooks](operations.md#deadline-notices-signed-webhooks))",
  },
  {
    name: 'LETHE_WEBHOOK_SECRET',
    default: 'none; required in production when `LETHE_WEBHOOK_URL` is set',
    meaning: 'HMAC-SHA256 key signing every webhook delivery (16+ characters, e.g. `openssl rand -hex 32`)',
    secret: true,
  },
  { name: 'LETHE_BLOCK_AFTER', default: '15m', meaning: 'how long a store refuses for a reason that needs a person before the request shows it `blocked`' },
  { name: 'LETHE_BLOCK_AFTER_TRANSIENT', default: '6h', meaning: 'how long a store fails transiently before the request shows it `blocked`' },
  { name: 'LETHE_STORE_RETRY_EVERY', default: '15m', meaning: "slow cadence of a refusing store's attempts" },
  { name: 'LETHE_STORE_ATTEMPT_BUDGET', default: '30m', meaning: "how long one attempt retries transient faults (it includes the wait in the vendors' queues)" },

  // Mail: the front door's verification mails and the person's notices (CONTRACT §6)
  {
    name: 'SMTP_URL',
    default: 'the embedded mail catcher, smtp://127.0.0.1:1025',
    meaning:
      'where outbound mail goes: `smtp://host:587` (STARTTLS when the server offers it) or `smtps://host:465`, credentials as `smtp://user:pass@host:587`; set: no mail catcher; required in production',
    secret: true,
  },
  { name: 'LETHE_MAIL_FROM', default: '`Lethe privacy team <privacy@lethe.test>`', meaning: 'the From of every mail Lethe sends' },
  {
    name: 'LETHE_PUBLIC_URL',
    default: "http://127.0.0.1:8080 (the API's own address and `LETHE_API_PORT`)",
    meaning: "the API's address as people reach it: links in mails start with it (`{LETHE_PUBLIC_URL}/privacy/confirm?token=…`); required in production",
  },
  { name: 'LETHE_PRIVACY_ADDRESS', default: 'privacy@lethe.test', meaning: "the address people write to; mail to it becomes a request for the sender's account" },
  { name: 'LETHE_INBOUND_SMTP_PORT', default: '2525', meaning: 'port of the inbound SMTP listener for `LETHE_PRIVACY_ADDRESS`; `0` turns it off' },
  { name: 'LETHE_MAILPIT_SMTP_PORT', default: '1025', meaning: "SMTP port of the embedded mail catcher (Mailpit), and of `SMTP_URL`'s default" },
  { name: 'LETHE_MAILPIT_HTTP_PORT', default: '8025', meaning: "port of the mail catcher's web page and API v1 (`/api/v1/messages`), where the mail Lethe sent is read" },

  // Payload encryption and the codec server
  {
    name: 'LETHE_ENCRYPTION_KEYS',
    default: 'generated, in `.lethe/encryption-keys`',
    meaning: 'payload encryption keys `keyid:base64key,...`, first is current ([privacy](privacy.md#payload-encryption)); required in production. *secret*',
  },
  {
    name: 'LETHE_ENCRYPTION_KEYS_FILE',
    default: 'none',
    meaning: 'a file (e.g. a mounted secret) in the same format; newlines allowed, `#` comment lines; set it or `LETHE_ENCRYPTION_KEYS`, not both',
  },
  { name: 'LETHE_ENCRYPTION_KEY_ID', default: 'the first key', meaning: 'the current key, when it is not the first' },
  { name: 'LETHE_CODEC_HOST', default: '127.0.0.1', meaning: 'address of the codec server the Web UI and the CLI decode payloads through' },
  { name: 'LETHE_CODEC_PORT', default: '8089', meaning: 'port of the codec server' },
  { name: 'LETHE_CODEC_ALLOWED_ORIGINS', default: "the Web UI's origin", meaning: 'which browser origins may call the codec server' },
  {
    name: 'LETHE_CODEC_TOKEN',
    default: 'none',
    meaning: "a bearer token (16+ chars) for the CLI's `--codec-auth`, needed to encode payloads and, in production mode, to start at all unless `LETHE_CODEC_AUTH=api-tokens`",
    secret: true,
  },
  {
    name: 'LETHE_CODEC_AUTH',
    default: '`origin` (compose: `api-tokens`)',
    meaning:
      '`api-tokens`: decoding needs an API token of the operator role or above, encoding an admin\'s (`--codec-auth "Bearer <token>"`); the Web UI cannot then decode (it forwards only its own OIDC token)',
  },

  // The inactivity sweep
  { name: 'LETHE_SWEEP_TIME', default: '03:00', meaning: 'when the Schedule starts the inactivity sweep each day (HH:MM)' },
  { name: 'LETHE_SWEEP_TIMEZONE', default: 'UTC', meaning: 'IANA zone of `LETHE_SWEEP_TIME` and of the calendar months counted back' },
  { name: 'LETHE_SWEEP_CATCHUP', default: '1d', meaning: 'how late a run missed during an outage is still taken (`30m`, `12h`, `1d`)' },
  { name: 'LETHE_SWEEP_CONCURRENCY', default: '4', meaning: 'deletion starts in flight during a sweep' },
  {
    name: 'LETHE_SWEEP_STARTS_PER_MINUTE',
    default: '82',
    meaning:
      "pace of a sweep's deletion starts; by default a twentieth above the sweep's deletions a minute the vendor budget lets through (82 at the default budget, where Recurly's sweep queue binds), so the vendor queues pace the sweep",
  },
  { name: 'LETHE_SWEEP_PAGE_SIZE', default: '1000', meaning: 'candidate accounts per page (one activity each; at most 10,000)' },
  { name: 'LETHE_SWEEP_PAGES_PER_RUN', default: '100', meaning: "pages a sweep's run takes before it continues as new (bounds its history)" },
  { name: 'LETHE_SWEEP_PAGE_BUDGET', default: '5m', meaning: 'how long one page keeps starting deletions before it hands back a cursor' },
  { name: 'LETHE_SWEEP_SCHEDULE', default: 'on', meaning: '`on`: workers keep the daily Schedule; `dry-run`: its sweeps only report; `off`: workers leave it alone (test stacks)' },
  { name: 'LETHE_SWEEP_SCHEDULE_ID', default: 'lethe-inactivity-sweep', meaning: "the Schedule's id" },
  { name: 'LETHE_SWEEP_SCOPE', default: 'none', meaning: "tests only, refused in production: this worker's sweeps see only account ids starting with this hex prefix" },
  { name: 'LETHE_INACTIVITY_MONTHS', default: '24', meaning: 'calendar months without a login after which an account is deleted' },
  {
    name: 'LETHE_INACTIVITY_NOTICES',
    default: '30d,7d',
    meaning:
      "lead times before an account becomes eligible at which the sweep mails it a notice (`d` or `h`, comma separated); an eligible account is deleted once the last rung's notice is that old (docs/notices.md); `off`: no notices, deletion on eligibility",
  },
];
