/**
 * What a deletion request must look like, defined once: the API validates bodies with this
 * schema (and publishes it in /openapi.json), and the intake validates every other caller's
 * requests with the same schema, so the two cannot disagree. Messages name the field.
 */
import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { REQUEST_CHANNELS, type RequestChannel } from '../contract';

export const uuidSchema = { type: 'string', format: 'uuid' } as const;
const time = { type: 'string', format: 'date-time' } as const;

/**
 * Who filed a request or did an operator action (`requestedBy`, `by`): a staff id, a token's
 * name or a service's id, never an email or a sentence. These values are kept at rest (the
 * request row, the operator trail, a receipt's resolution) long after the person's data is
 * gone, so nothing a caller types there may identify the person. The sweep's own value, its
 * workflow id (`inactivity-sweep-…`, a Schedule's `…-2026-05-01T00:00:00Z`), fits.
 */
export const IDENTIFIER_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
/** The pattern alone bounds the length (1 to 128), so every refusal names the pattern. */
export const identifierSchema = (description: string) =>
  ({
    type: 'string',
    pattern: IDENTIFIER_PATTERN,
    description: `${description}: letters, digits and . _ : - only (${IDENTIFIER_PATTERN}); no email, name or free text`,
  }) as const;

export interface DeletionRequestBody {
  accountId?: string;
  email?: string;
  channel: RequestChannel;
  receivedAt?: string;
  requestedBy?: string;
  /** `staff` (default): the caller vouches for the person; `email`: Lethe mails the account a link and waits (CONTRACT §6). */
  verification?: 'staff' | 'email';
}

/** An email address as a request may give it: no whitespace or control characters (PostgreSQL refuses NUL, and no address holds one). */
export const EMAIL_PATTERN = '^[^@\\s\\u0000-\\u001f\\u007f]+@[^@\\s\\u0000-\\u001f\\u007f]+$';

export const deletionRequestBody = {
  type: 'object',
  description: 'Exactly one of accountId or email. Unknown fields are refused (400 naming them): a misspelt `receivedAt` must not silently move the deadline.',
  additionalProperties: false,
  required: ['channel'],
  properties: {
    accountId: { ...uuidSchema, description: 'The account to delete' },
    email: {
      type: 'string',
      minLength: 3,
      maxLength: 320,
      pattern: EMAIL_PATTERN,
      description: 'Matched exactly and case-insensitively; `%` and `_` are characters, not patterns',
    },
    channel: { type: 'string', enum: [...REQUEST_CHANNELS], description: 'Where the request reached the company' },
    receivedAt: { ...time, description: 'When the request reached the company (default now, never in the future); the deadline counts from it' },
    requestedBy: identifierSchema('Who filed it (a staff id or service name)'),
    verification: {
      type: 'string',
      enum: ['staff', 'email'],
      description:
        '`staff` (default): the caller vouches that the person asked, recorded with the token in the audit trail; `email`: Lethe mails the account’s address on file a link and files the deletion only when the person confirms (status `awaiting_confirmation` until then)',
    },
  },
  anyOf: [{ required: ['accountId'] }, { required: ['email'] }],
  not: { required: ['accountId', 'email'] },
} as const;

export type SchemaViolation = Pick<ErrorObject, 'keyword' | 'instancePath' | 'schemaPath' | 'params' | 'message'>;

/** Options shared with the API's body validator: no coercion, nothing removed or guessed. */
export const strictAjv = (): Ajv => addFormats(new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false, strict: false }));

const validateBody = strictAjv().compile(deletionRequestBody);

/** The first violation of the deletion request schema, described; undefined when valid. */
export function checkDeletionRequest(body: unknown): { field: string; message: string } | undefined {
  if (validateBody(body)) return undefined;
  const d = describeViolation(validateBody.errors![0], 'body', body);
  return { field: d.field ?? 'body', message: d.message };
}

const FORMATS: Record<string, string> = {
  uuid: 'a UUID',
  'date-time': 'an RFC 3339 date-time with a time zone, e.g. 2026-11-28T09:30:00Z',
};

/** One sentence naming the field (`body/channel`, `querystring/status`) of a schema violation. */
export function describeViolation(first: SchemaViolation, context: string, body?: unknown): { message: string; field?: string } {
  // Ajv may report a combinator before the type; an array or a string is simply not an object.
  if (context === 'body' && (typeof body !== 'object' || body === null || Array.isArray(body))) {
    return { message: 'body must be a JSON object', field: 'body' };
  }
  const path = first.instancePath.replace(/^\//, '').replace(/~1/g, '/').replace(/~0/g, '~');
  let field = path ? `${context}/${path}` : context;
  let message: string;
  const p = first.params as Record<string, unknown>;
  // The only combinators in Lethe's schemas say "exactly one of accountId or email".
  if (/^#\/not\b/.test(first.schemaPath)) {
    return { message: `${context}/accountId and ${context}/email are both given; give exactly one`, field: `${context}/accountId` };
  }
  if (/^#\/(anyOf|oneOf)\b/.test(first.schemaPath)) {
    return { message: `${context}/accountId or ${context}/email is required (exactly one of them)`, field: `${context}/accountId` };
  }
  switch (first.keyword) {
    case 'required':
      field = `${field === context ? context : field}/${String(p.missingProperty)}`;
      message = `${field} is required`;
      break;
    case 'additionalProperties':
      field = `${field === context ? context : field}/${String(p.additionalProperty)}`;
      message = `${field} is not a known field`;
      break;
    case 'enum':
      message = `${field} must be one of ${(p.allowedValues as unknown[]).join(', ')}`;
      break;
    case 'format':
      message = `${field} must be ${FORMATS[String(p.format)] ?? `in ${String(p.format)} format`}`;
      break;
    case 'type':
      message = field === 'body' ? 'body must be a JSON object' : `${field} must be ${article(String(p.type))}`;
      break;
    case 'pattern':
      message =
        p.pattern === IDENTIFIER_PATTERN
          ? `${field} must be an identifier matching ${IDENTIFIER_PATTERN} (a staff id or service name; no email, name or free text, which would be kept at rest)`
          : `${field} is malformed${field.endsWith('email') ? ' (expected an email address)' : ''}`;
      break;
    case 'minLength':
    case 'maxLength':
    case 'minimum':
    case 'maximum':
      message = `${field} ${first.message ?? 'is out of range'}`;
      break;
    default:
      message = `${field} ${first.message ?? 'is invalid'}`;
  }
  return { message, field };
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
