/**
 * What crosses between the access workflow, its activities and the API (docs/access.md): ids,
 * times, counts and sizes only. The person's data never travels through Temporal: each store's
 * part is staged in Lethe's archive container and read back by the activity that writes the ZIP.
 */
import { archivePrefix } from '../../contract/access';
import type { BlockPolicy } from '../../contract';

/** The stores an access request reads, each on its own (and each may be blocked on its own). */
export const ACCESS_STORES = ['database', 'auth0', 'recurly', 'media'] as const;
export type AccessStore = (typeof ACCESS_STORES)[number];

export type AccessStatus = 'pending' | 'running' | 'blocked' | 'ready' | 'expired' | 'cancelled' | 'failed';

export interface AccessInput {
  requestId: string;
  accountId: string;
  channel: string;
  receivedAt: string;
  deadlineAt: string;
  requestedBy?: string;
  blockPolicy: BlockPolicy;
  /** How long the mailed link works (and the archive is kept) once the archive is written. */
  linkTtlMs: number;
  /** Parts of at most this size (a media file larger than it gets a part to itself). */
  partBytes: number;
  /**
   * Only delete what an earlier run of this request left in the archive container, and end
   * `cancelled`: a deletion of the account met a run that had already ended (failed, terminated).
   */
  purgeOnly?: boolean;
}

/** What one store's gathering found: counts only (the data is staged, not returned). */
export interface GatherResult {
  store: AccessStore;
  counts: Record<string, number>;
  /** Left out on purpose, said without personal data (e.g. users found by an email a case twin holds). */
  notes?: string[];
}

export interface ArchiveResult {
  parts: number;
  bytes: number;
  mediaFiles: number;
  /** Media files deleted after they were listed: left out, and named in the archive's notes. */
  mediaGone?: number;
}

export interface AccessStoreProgress {
  name: AccessStore;
  status: 'pending' | 'running' | 'retrying' | 'blocked' | 'done';
  attempts: number;
  reason?: string;
  since?: string;
  counts?: Record<string, number>;
}

/**
 * An access request as the API answers it and the CLI shows it (CONTRACT §8), and, with its
 * stores always there, as the workflow's progress query answers it: one shape for all three.
 * Never a link (the links go to the account's address only), never personal data.
 */
export interface AccessView {
  requestId: string;
  accountId: string;
  channel: string;
  status: AccessStatus;
  receivedAt: string;
  deadlineAt: string;
  overdue: boolean;
  completedAt?: string;
  requestedBy?: string;
  stores?: AccessStoreProgress[];
  blocked?: { store: string; reason: string; since: string }[];
  /** Parts, size and expiry; never a link. */
  archive?: { parts: number; bytes: number; expiresAt: string; deletedAt?: string };
  /** Per store, what was gathered, as counts: no personal data (written when the archive is ready). */
  receipt?: { counts: Record<string, Record<string, number>> };
  /** Why a `failed` request failed (Lethe's own words: a run ended outside Lethe, or the workflow's failure type). */
  reason?: string;
  /** On filing: an access request for the account was already open, and this is it. */
  existing?: boolean;
}

/** What the workflow's progress query answers: the view, with every store's progress. */
export type AccessProgress = AccessView & { stores: AccessStoreProgress[] };

/** Where an access request's files live in the archive container: everything under one prefix. */
export { archivePrefix };
export const stagingPrefix = (requestId: string): string => `${archivePrefix(requestId)}staging/`;
export const stagedName = (requestId: string, store: AccessStore): string => `${stagingPrefix(requestId)}${store}.json`;
export const partName = (requestId: string, part: number, parts: number): string =>
  `${archivePrefix(requestId)}${parts === 1 ? 'your-data.zip' : `your-data-part-${String(part).padStart(3, '0')}-of-${String(parts).padStart(3, '0')}.zip`}`;

export const ACCESS_DEFAULTS = { container: 'lethe-access', partBytes: 2 * 1024 * 1024 * 1024, linkTtlMs: 7 * 86_400_000 };

/** The version of data.json's layout; a change that a reader could trip on raises it. */
export const ARCHIVE_SCHEMA_VERSION = 1;

/**
 * data.json's JSON Schema (draft-07), documented in docs/access.md. Each store's records are
 * objects as the store holds them (column or field names kept), so the schema fixes the frame
 * and the media index, not every vendor field.
 */
export const ARCHIVE_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://lethe.invalid/schemas/access-archive-v1.json',
  title: 'A copy of the data held about one person (Lethe access archive)',
  type: 'object',
  required: ['schemaVersion', 'requestId', 'accountId', 'generatedAt', 'stores'],
  additionalProperties: false,
  properties: {
    schemaVersion: { const: ARCHIVE_SCHEMA_VERSION },
    requestId: { type: 'string', format: 'uuid' },
    accountId: { type: 'string', format: 'uuid' },
    generatedAt: { type: 'string', format: 'date-time' },
    parts: { type: 'integer', minimum: 1 },
    stores: {
      type: 'object',
      required: ['database', 'auth0', 'recurly', 'media'],
      additionalProperties: false,
      properties: {
        database: {
          type: 'object',
          required: ['tables'],
          additionalProperties: false,
          properties: {
            tables: { type: 'object', additionalProperties: { type: 'array', items: { type: 'object' } } },
            notes: { type: 'array', items: { type: 'string' } },
          },
        },
        auth0: {
          type: 'object',
          required: ['users'],
          additionalProperties: false,
          properties: {
            users: { type: 'array', items: { type: 'object', required: ['user_id'], properties: { user_id: { type: 'string' }, identities: { type: 'array', items: { type: 'object' } } } } },
            notes: { type: 'array', items: { type: 'string' } },
          },
        },
        recurly: {
          type: 'object',
          required: ['account', 'subscriptions', 'invoices'],
          additionalProperties: false,
          properties: {
            account: { type: ['object', 'null'] },
            subscriptions: { type: 'array', items: { type: 'object' } },
            invoices: { type: 'array', items: { type: 'object' } },
            notes: { type: 'array', items: { type: 'string' } },
          },
        },
        media: {
          type: 'object',
          required: ['files'],
          additionalProperties: false,
          properties: {
            files: {
              type: 'array',
              items: {
                type: 'object',
                required: ['path', 'part', 'container', 'blobName', 'bytes'],
                additionalProperties: false,
                properties: {
                  path: { type: 'string', pattern: '^media/' },
                  part: { type: 'integer', minimum: 1 },
                  container: { type: 'string' },
                  blobName: { type: 'string' },
                  bytes: { type: 'integer', minimum: 0 },
                  contentType: { type: 'string' },
                  kind: { type: 'string' },
                  cameraId: { type: ['string', 'null'] },
                  capturedAt: { type: ['string', 'null'], format: 'date-time' },
                  lastModified: { type: 'string', format: 'date-time' },
                },
              },
            },
            notes: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  },
} as const;
