/** The shape of Lethe's configuration, by slice: each factory takes only the slice it uses. */
import type { KeyRing } from '../encryption/keys';
import type { BlockPolicy } from '../contract';
import type { ApiCredential } from './tokens';

export type Mode = 'embedded' | 'production';

export interface Config {
  mode: Mode;
  /** Where the embedded stack keeps its state (database files, SQLite history, token, keys). */
  stateDir: string;
  /** `rateLimitPerMinute`: requests each token (or, without a valid token, each address) may make per minute. */
  /**
   * `credentials`: named tokens with a role, as SHA-256 digests (config/tokens.ts); `tokens`:
   * plaintext tokens of the earlier LETHE_API_TOKENS format, each served as an `admin`.
   */
  api: { host: string; port: number; tokens: string[]; credentials?: ApiCredential[]; rateLimitPerMinute: number };
  /**
   * Who did what (lethe.audit_log) and the operator actions (lethe.operator_actions): rows older
   * than `retentionDays` are pruned. `abandonedSubjectDays`: how long the captured subject of a
   * deletion that ended unfinished (terminated, failed) is kept for a resume before it is erased.
   */
  audit: { retentionDays: number; abandonedSubjectDays: number };
  /** The worker's Prometheus endpoint (Lethe's counters and the Temporal SDK's); port 0 turns it off. */
  /**
   * `workflowBundle`: a workflow bundle built beforehand (LETHE_WORKFLOW_BUNDLE, worker/bundle.ts);
   * absent, the worker process builds one in a child process at start.
   */
  worker: { metricsHost: string; metricsPort: number; workflowBundle?: string; deployment?: WorkerDeploymentConfig };
  /** `tls`: TLS and API key of the connection (config/temporal-tls.ts); absent in hand-made test configs: plain. */
  temporal: { address: string; namespace: string; uiPort: number; taskQueue: string; retentionDays: number; tls?: TemporalTls };
  database: { url: string; embedded: boolean };
  /** `accountUrl` (AZURE_STORAGE_ACCOUNT_URL, Microsoft Entra ID): set only without a connection string, which is then ''. */
  blob: { connectionString: string; accountUrl?: string; embedded: boolean; containers: string[]; pageSize: number; batchConcurrency: number };
  /** `searchLagMs`: how long Auth0's user search may lag a write; `logRetentionDays`: the tenant's log retention (receipts say when the logs expire). */
  auth0: { domain: string; clientId: string; clientSecret: string; baseUrl?: string; searchLagMs?: number; logRetentionDays?: number };
  recurly: { apiKey: string; baseUrl?: string; refund: 'none' | 'partial' | 'full'; region: 'us' | 'eu'; site: 'sandbox' | 'production' };
  /** `webhookSecret` signs every webhook delivery (LETHE_WEBHOOK_SECRET[_FILE]; activities/deletion/notify.ts). */
  /** `twinGuardDays`: how long a deleted person's email hash keeps a case twin from being resolved by that email (LETHE_TWIN_GUARD_DAYS). */
  deletion: { deadlineHours: number; warningHours: number; webhookUrl?: string; webhookSecret?: string; blockPolicy: BlockPolicy; twinGuardDays: number };
  /**
   * The front door (CONTRACT §6): how long a mailed link works, when its one reminder goes
   * (`reminderBeforeMs` before it expires; 0: none), wrong tries before a request locks, the
   * public routes' limits per client (a minute) and per address (an hour), and how recently an
   * account's address may have changed before a request from the person waits for an operator.
   */
  frontDoor: FrontDoorConfig;
  /** The inactivity sweep (issue 4): its daily Schedule, its pace, and the policy's 24 months. */
  sweep: SweepConfig;
  /** Payload encryption keys (encryption/): required in production, written by the embedded stack. */
  encryption: { keys?: KeyRing };
  /** The vendors' rate budget and the worker's memory caps (config/budget.ts). */
  budget: import('./budget').BudgetConfig;
  /** The codec server through which the Web UI shows decrypted payloads. */
  /** `auth`: `origin` (the allow-list, plus `token` if set) or `api-tokens` (a LETHE_API_TOKENS token of the operator role). */
  codec: { host: string; port: number; allowedOrigins: string[]; token?: string; auth?: 'origin' | 'api-tokens' };
  /** Mail to and from the people whose data it is (CONTRACT §6; mail/). */
  mail: MailConfig;
  /**
   * Access requests (CONTRACT §8, docs/access.md): the private container of Lethe's own the
   * archives are written to, the size of an archive's parts, how long the mailed link works.
   * Absent in hand-made test configs: the defaults (ACCESS_DEFAULTS in activities/access/types.ts).
   */
  access?: { container: string; partBytes: number; linkTtlMs: number };
  /** The privacy console (client/console): `dueSoonHours` (LETHE_CONSOLE_DUE_SOON), its sessions' life, whether its cookie is always `Secure`. Absent in hand-made test configs: the defaults. */
  console?: { dueSoonHours: number; sessionHours: number; secureCookie: 'auto' | 'always' };
}

/** Outbound mail over SMTP (mail/transport.ts), the links mails carry, and the inbound address. */
export interface MailConfig {
  /** `smtp://` or `smtps://` (credentials in the URL); embedded: the mail catcher, smtp://127.0.0.1:1025. */
  smtpUrl: string;
  /** The From of every mail Lethe sends, `Name <address>`. */
  from: string;
  /** The API's public base URL, no trailing slash: links in mails start with it (`{publicUrl}/privacy/confirm?token=…`). */
  publicUrl: string;
  /** The privacy address people write to; inbound mail to it becomes a request. */
  privacyAddress: string;
  /** The inbound SMTP listener's port; 0: no listener. */
  inboundSmtpPort: number;
}

/**
 * The worker as a Temporal worker deployment version (worker/deployment.ts, docs/releasing.md);
 * absent (hand-made test configs) or `versioning: false`: an unversioned worker.
 */
export interface WorkerDeploymentConfig {
  versioning: boolean;
  /** The deployment: every version of this Lethe, one per build. */
  name: string;
  /** LETHE_BUILD_ID; absent, the worker takes `<package version>-<commit>` at start. */
  buildId?: string;
  /** Whether a starting worker makes its version current: always, only when none is, or never. */
  setCurrent: 'always' | 'if-unset' | 'never';
}

export interface SweepConfig {
  /** Local time of day the Schedule starts the sweep, `HH:MM` in `timezone`. */
  time: string;
  hour: number;
  minute: number;
  /** IANA zone of `time`, and of the calendar months counted back for the cut-off. */
  timezone: string;
  /** How late a missed run (Temporal down at the time) may still be taken, in ms. */
  catchupWindowMs: number;
  /** Deletion starts in flight at once (each is a few calls to Temporal and PostgreSQL). */
  concurrency: number;
  /** Deletions started per minute, so the vendors see a steady load below their limits. */
  startsPerMinute: number;
  /** Candidate accounts read per page (one activity per page). */
  pageSize: number;
  /** Pages a sweep's run takes before it continues as new (bounds its history). */
  pagesPerRun: number;
  /** How long one page may keep starting deletions before it hands back a cursor. */
  pageTimeBudgetMs: number;
  /** `on`: the worker keeps the daily Schedule; `dry-run`: its sweeps only report; `off`: no Schedule. */
  schedule: 'on' | 'dry-run' | 'off';
  /** The Schedule's id (one per deployment and namespace). */
  scheduleId: string;
  /**
   * Tests only (refused in production): this worker's sweeps see only accounts whose id starts
   * with this hex prefix. Test files share one database; a scoped sweep runs the production
   * query with one more predicate.
   */
  scopePrefix?: string;
  /** Months of inactivity after which an account is deleted (CONTRACT §1: 24). */
  inactivityMonths: number;
  /**
   * The inactivity notice ladder (LETHE_INACTIVITY_NOTICES, docs/notices.md), longest lead
   * first; empty when `off`. Absent in hand-made test configs: no notices, as `off`.
   */
  notices?: NoticeRung[];
}

/** One rung of the notice ladder: its name as configured (`30d`) and its lead time. */
export interface NoticeRung {
  name: string;
  leadMs: number;
}

/** How Temporal is reached beyond plain text (config/temporal-tls.ts reads and checks it). */
export interface TemporalTls {
  /** TLS on the connection: any TLS file, a server name, an API key, or TEMPORAL_TLS=true. */
  enabled: boolean;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
  /** The key itself (TEMPORAL_API_KEY) or where it is (TEMPORAL_API_KEY_FILE): one of the two. */
  apiKey?: string;
  apiKeyFile?: string;
}

export interface FrontDoorConfig {
  verificationTtlMs: number;
  reminderBeforeMs: number;
  maxWrongAttempts: number;
  publicPerClientPerMinute: number;
  publicPerAddressPerHour: number;
  addressChangeHoldMs: number;
  /** How often the API's maintenance pass reads every account's address into lethe.address_watch. */
  addressWatchEveryMs: number;
  /** Token names whose deletion requests are always verified by mail (LETHE_EMAIL_VERIFIED_TOKENS). */
  emailVerifiedTokens: string[];
}
