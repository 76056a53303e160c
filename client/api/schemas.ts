/**
 * Request and response schemas of the HTTP API. The same objects validate requests (Ajv),
 * serialize responses (only the listed fields leave the process) and generate the OpenAPI
 * document at /openapi.json, so the document cannot drift from what the server does.
 */

import { CHANNELS as ALL_CHANNELS, DELETION_STATUSES, REQUEST_STATUSES as STATUSES, STORES, WAITING_STEPS } from '../../contract';
import { deletionRequestBody, identifierSchema, uuidSchema as uuid } from '../validation';

export { ALL_CHANNELS, STATUSES, deletionRequestBody };
export type { DeletionRequestBody } from '../validation';

const time = { type: 'string', format: 'date-time' } as const;

export const errorSchema = {
  type: 'object',
  description: 'Every error: a stable code, a sentence naming the field when one is at fault, and that field.',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', example: 'invalid_input' },
    message: { type: 'string', example: 'body/channel must be one of api, email, phone, support, in_app' },
    field: { type: 'string', example: 'body/channel' },
  },
} as const;

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, { ...errorSchema, description: ERROR_TEXT[c] ?? 'Error' }]));

const ERROR_TEXT: Record<number, string> = {
  400: 'Malformed request; the message names the field',
  401: 'Missing or wrong bearer token',
  403: "The token's role does not allow this call; the message names the role needed and the token",
  404: 'Not found',
  413: 'Request body over the size limit',
  415: 'Body is not application/json',
  429: 'Rate limit of this token exceeded; see Retry-After',
  503: 'A dependency (Temporal, PostgreSQL) is unavailable',
};

export const startedSchema = {
  type: 'object',
  required: ['requestId', 'accountId', 'status', 'receivedAt'],
  properties: {
    requestId: uuid,
    accountId: uuid,
    status: { type: 'string', enum: [...STATUSES] },
    receivedAt: time,
    deadlineAt: time,
    existing: { type: 'boolean', description: 'True when this joined a deletion already under way (or finished) for the account: same requestId' },
    confirmBy: { ...time, description: 'With verification `email`: when the link mailed to the account expires; the deadline is set when the person confirms' },
  },
} as const;

const stepSchema = {
  type: 'object',
  required: ['name', 'status'],
  properties: {
    name: { type: 'string', example: 'media' },
    status: { type: 'string', enum: [...STATUSES] },
    attempts: { type: 'integer', description: 'Attempts of the running step, while it is retried' },
    runs: { type: 'integer', description: 'Verification passes that ran this step' },
    detail: { type: 'string', example: '2000 blobs deleted' },
  },
} as const;

const receiptSchema = {
  type: 'object',
  description: 'The PII-free proof: ids, times, per-store counts and the verification',
  additionalProperties: true,
  properties: {
    requestId: uuid,
    accountId: uuid,
    channel: { type: 'string' },
    channels: { type: 'array', items: { type: 'string' } },
    receivedAt: time,
    deadlineAt: time,
    completedAt: time,
    overdue: { type: 'boolean' },
    passes: { type: 'integer' },
    counts: { type: 'object', additionalProperties: true },
    verification: { type: 'object', additionalProperties: true },
    stores: { type: 'object', additionalProperties: true, description: 'Per store: `verified` (read back empty) or `resolved_outside_lethe` (an operator action, by id)' },
  },
} as const;

const blockedSchema = {
  type: 'object',
  required: ['store', 'reason', 'since'],
  properties: {
    store: {
      type: 'string',
      enum: [...STORES, ...WAITING_STEPS],
      description:
        "A store, or one of the deletion's own steps that waits past the same bound (`freeze`, `recheck`: the sweep's re-check, `verify`: the final read-back, `receipt`); each keeps being retried, and `retry` without stores tries it at once",
    },
    reason: { type: 'string', description: "The vendor's or the adapter's reason (ids and statuses only)" },
    since: time,
    action: { type: 'string', description: 'What an operator can do about it' },
  },
} as const;

const storeSchema = {
  type: 'object',
  properties: {
    store: { type: 'string', enum: [...STORES] },
    status: { type: 'string', enum: ['pending', 'running', 'retrying', 'blocked', 'verified', 'resolved'] },
    attempts: { type: 'integer' },
    failingSince: time,
    reason: { type: 'string' },
    action: { type: 'string' },
    detail: { type: 'string' },
    resolution: { type: 'object', properties: { actionId: uuid, by: { type: 'string' }, at: time } },
  },
} as const;

export const deletionViewSchema = {
  type: 'object',
  // deadlineAt is absent only while the person has not confirmed (the deadline counts from the confirmation).
  required: ['requestId', 'accountId', 'channel', 'status', 'receivedAt', 'overdue', 'steps'],
  properties: {
    requestId: uuid,
    accountId: uuid,
    channel: { type: 'string', enum: [...ALL_CHANNELS] },
    channels: { type: 'array', items: { type: 'string' } },
    status: { type: 'string', enum: [...STATUSES] },
    receivedAt: time,
    deadlineAt: time,
    completedAt: time,
    overdue: { type: 'boolean' },
    warning: { type: 'boolean', description: 'Past the warning time (deadline minus the warning span) and not finished' },
    steps: { type: 'array', items: stepSchema },
    receipt: receiptSchema,
    blocked: { type: 'array', items: blockedSchema, description: 'Stores that refuse in a way only a person can fix; the others carry on' },
    stores: { type: 'array', items: storeSchema, description: 'Each store on its own: attempts, the current reason, what to do' },
    reason: { type: 'string', description: 'Why a failed deletion failed (failure type and ids only)' },
    firstContactAt: { ...time, description: 'A request the person confirmed by mail: when they first asked; the deadline counts from the confirmation (receivedAt)' },
    verification: { type: 'string', enum: ['staff', 'email'], description: '`email`: the person confirmed a mailed link; `staff`: the caller vouched' },
    confirmBy: { ...time, description: 'While awaiting_confirmation: when the mailed link expires' },
    source: {
      type: 'string',
      enum: ['workflow', 'tables', 'records'],
      description:
        "`workflow`: Temporal was asked (`?live=true`, a blocked or closed run, or nothing recorded yet); `tables`: Lethe's tables answer, kept current by the workflow (a running request with its stores recorded, or a completed one with its receipt); `records`: only Lethe's tables answer because the workflow history has expired or Temporal cannot be reached",
    },
    stalled: {
      type: 'object',
      required: ['since', 'attempts', 'reason'],
      properties: { since: time, attempts: { type: 'integer' }, reason: { type: 'string' } },
      description: "The run's workflow task has failed or timed out 2 or more times in a row: no worker can run it, and it makes no progress until a person fixes that",
    },
  },
} as const;

const summarySchema = {
  type: 'object',
  required: ['requestId', 'accountId', 'channel', 'status', 'receivedAt', 'deadlineAt', 'overdue'],
  properties: {
    requestId: uuid,
    accountId: uuid,
    channel: { type: 'string', enum: [...ALL_CHANNELS] },
    status: { type: 'string', enum: [...STATUSES] },
    receivedAt: time,
    deadlineAt: time,
    completedAt: time,
    overdue: { type: 'boolean' },
  },
} as const;

export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: [...DELETION_STATUSES] },
    channel: { type: 'string', enum: [...ALL_CHANNELS] },
    overdue: { type: 'boolean', description: 'true: past the deadline before finishing (open ones, and completed late)' },
    limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
    cursor: { type: 'string', maxLength: 512, description: 'nextCursor of the previous page' },
  },
} as const;

export interface ListQuery {
  status?: (typeof DELETION_STATUSES)[number];
  channel?: (typeof ALL_CHANNELS)[number];
  overdue?: boolean;
  limit?: number;
  cursor?: string;
}

export const listSchema = {
  type: 'object',
  required: ['items'],
  properties: {
    items: { type: 'array', items: summarySchema },
    nextCursor: { type: 'string', description: 'Present when there are more items' },
  },
} as const;

export const requestIdParams = {
  type: 'object',
  required: ['requestId'],
  properties: { requestId: { ...uuid, description: 'The requestId answered by POST /v1/deletion-requests' } },
} as const;

export const sweepBody = {
  type: 'object',
  additionalProperties: false,
  properties: { dryRun: { type: 'boolean', default: false, description: 'Select and report eligible accounts without deleting' } },
} as const;

export const sweepStartedSchema = {
  type: 'object',
  required: ['sweepId'],
  properties: { sweepId: { type: 'string' } },
} as const;

export const sweepParams = {
  type: 'object',
  required: ['sweepId'],
  properties: { sweepId: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9._:-]+$' } },
} as const;

export const sweepQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    pageToken: { type: 'string', maxLength: 2048, description: 'nextPageToken of the previous page of accountIds' },
    pageSize: { type: 'integer', minimum: 1, maximum: 1000 },
  },
} as const;

export const sweepViewSchema = {
  type: 'object',
  required: ['sweepId', 'status', 'dryRun', 'scanned', 'eligible', 'started'],
  properties: {
    sweepId: { type: 'string' },
    status: { type: 'string', enum: ['running', 'completed', 'failed'] },
    dryRun: { type: 'boolean' },
    scanned: { type: 'integer', description: 'Accounts examined' },
    eligible: { type: 'integer', description: 'Accounts inactive for over 24 months with no live subscription' },
    started: { type: 'integer', description: 'Deletions started (0 in a dry run)' },
    startedAt: time,
    finishedAt: time,
    accountIds: { type: 'array', items: uuid, description: 'Eligible accounts, a page at a time' },
    nextPageToken: { type: 'string' },
    noticesSent: { type: 'integer', description: 'Inactivity notices mailed (in a dry run: that it would mail); docs/notices.md' },
    deferred: { type: 'integer', description: "Eligible accounts not deleted yet: their last notice is younger than its rung's lead time" },
    notices: {
      type: 'array',
      description: 'Dry runs: the notices it would mail, in account id order (the first 1000)',
      items: { type: 'object', properties: { accountId: uuid, rung: { type: 'string' }, deleteFrom: time } },
    },
  },
} as const;

export const healthSchema = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    checks: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

export const errorResponses = errors;

/** Who does an operator action: a staff id or a service name, recorded with the action. */
const by = identifierSchema('Who does it (a staff id); recorded with the action, and in the receipt of a resolution');

export const retryBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { by },
} as const;

export const resolveBody = {
  type: 'object',
  additionalProperties: false,
  required: ['store', 'justification', 'by'],
  properties: {
    store: { type: 'string', enum: [...STORES] },
    justification: {
      type: 'string',
      minLength: 10,
      maxLength: 2000,
      description: 'What was done outside Lethe and by whom; kept in the action trail (not in the receipt), which is pruned with the audit trail (LETHE_AUDIT_RETENTION_DAYS)',
    },
    by,
  },
} as const;

export const bulkRetryBody = {
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['blocked', 'failed'] },
    channel: { type: 'string', enum: [...ALL_CHANNELS] },
    receivedBefore: time,
    dryRun: { type: 'boolean', default: true, description: 'Count first (the default); false retries every match' },
    by,
  },
} as const;

export const bulkRetrySchema = {
  type: 'object',
  required: ['matched', 'requestIds'],
  properties: {
    matched: { type: 'integer' },
    requestIds: { type: 'array', items: uuid },
    retried: { type: 'array', items: { type: 'object', properties: { requestId: uuid, actionId: uuid, outcome: { type: 'string' } } } },
    errors: { type: 'array', items: { type: 'object', properties: { requestId: uuid, message: { type: 'string' } } } },
  },
} as const;

export const actionsSchema = {
  type: 'object',
  required: ['items'],
  properties: {
    items: {
      type: 'array',
      items: { type: 'object', properties: { actionId: uuid, action: { type: 'string' }, store: { type: 'string' }, by: { type: 'string' }, justification: { type: 'string' }, at: time } },
    },
  },
} as const;

/** A 403: the role the call needs, the caller's, and the token's name (never the token). */
export const forbiddenSchema = {
  type: 'object',
  description: ERROR_TEXT[403],
  required: ['error', 'message', 'requiredRole', 'role', 'tokenName'],
  properties: {
    error: { type: 'string', enum: ['forbidden'] },
    message: { type: 'string', example: 'POST /v1/sweeps (a real sweep) needs the admin role; the token "support-desk" has the requester role' },
    requiredRole: { type: 'string', enum: ['requester', 'operator', 'admin'] },
    role: { type: 'string', enum: ['requester', 'operator', 'admin'] },
    tokenName: { type: 'string' },
  },
} as const;

export const auditQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    actor: { type: 'string', minLength: 1, maxLength: 200, description: "A token's name, or cli:<user>@<host>" },
    action: { type: 'string', minLength: 1, maxLength: 100, example: 'sweep.started' },
    requestId: uuid,
    since: { ...time, description: 'Entries at or after this time' },
    until: { ...time, description: 'Entries before this time' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    cursor: { type: 'string', pattern: '^[0-9]{1,19}$', description: 'nextCursor of the previous page' },
  },
} as const;

export const auditListSchema = {
  type: 'object',
  required: ['items'],
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['seq', 'at', 'actor', 'via', 'action'],
        properties: {
          seq: { type: 'string' },
          at: time,
          actor: { type: 'string', description: "The token's name, the CLI's operator identity, or lethe-maintenance (via system)" },
          via: {
            type: 'string',
            enum: ['api', 'cli', 'system'],
            description: "`system`: the API's maintenance pass on its own, e.g. `deletion_subject.erased` (a deletion ended unfinished and was not resumed within LETHE_ABANDONED_SUBJECT_DAYS)",
          },
          action: { type: 'string' },
          requestId: { type: 'string' },
          accountId: { type: 'string' },
          sweepId: { type: 'string' },
          scheduleId: { type: 'string' },
          details: { type: 'object', additionalProperties: true },
        },
      },
    },
    nextCursor: { type: 'string' },
  },
} as const;

export const scheduleNoteBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { note: { type: 'string', minLength: 1, maxLength: 500, description: 'Why; shown in the Web UI (not kept in the audit trail)' } },
} as const;

export const scheduleBackfillBody = {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to'],
  properties: { from: time, to: time },
} as const;

export const scheduleViewSchema = {
  type: 'object',
  required: ['scheduleId', 'paused'],
  properties: {
    scheduleId: { type: 'string' },
    paused: { type: 'boolean' },
    note: { type: 'string' },
    time: { type: 'string', example: '03:00' },
    timezone: { type: 'string' },
    overlap: { type: 'string' },
    catchupWindowMs: { type: 'integer' },
    taskQueue: { type: 'string' },
    workflowType: { type: 'string' },
    nextActionTimes: { type: 'array', items: time },
    recentActions: { type: 'array', items: { type: 'object', properties: { scheduledAt: time, takenAt: time, workflowId: { type: 'string' } } } },
    running: { type: 'array', items: { type: 'string' } },
    actionsTaken: { type: 'integer' },
    skippedOverlap: { type: 'integer' },
    missedCatchupWindow: { type: 'integer' },
    createdAt: time,
    updatedAt: time,
  },
} as const;
