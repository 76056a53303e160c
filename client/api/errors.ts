/**
 * Every error the API answers has one shape, `{ error, message, field? }`: `error` a stable
 * code for programs, `message` a sentence for people that names the offending field as
 * `body/channel`, `querystring/status` or `params/requestId`.
 */
import type { FastifyError } from 'fastify';

export interface ApiErrorBody {
  error: string;
  message: string;
  field?: string;
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get body(): ApiErrorBody {
    return { error: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) };
  }
}

interface AjvError {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  message?: string;
}

const FORMATS: Record<string, string> = {
  uuid: 'a UUID',
  'date-time': 'an RFC 3339 date-time with a time zone, e.g. 2026-11-28T09:30:00Z',
};

/** One sentence naming the field, from the first schema violation Ajv reports. */
export function validationErrorBody(err: FastifyError, body?: unknown): ApiErrorBody {
  const context = (err as { validationContext?: string }).validationContext ?? 'body';
  const first = ((err as { validation?: AjvError[] }).validation ?? [])[0];
  if (!first) return { error: 'invalid_input', message: err.message };
  // Ajv may report a combinator before the type; an array or a string is simply not an object.
  if (context === 'body' && (typeof body !== 'object' || body === null || Array.isArray(body))) {
    return { error: 'invalid_input', message: 'body must be a JSON object', field: 'body' };
  }
  const path = first.instancePath.replace(/^\//, '').replace(/~1/g, '/').replace(/~0/g, '~');
  let field = path ? `${context}/${path}` : context;
  let message: string;
  const p = first.params;
  // The only combinators in Lethe's schemas say "exactly one of accountId or email".
  if (/^#\/not\b/.test(first.schemaPath)) {
    return { error: 'invalid_input', message: `${context}/accountId and ${context}/email are both given; give exactly one`, field: `${context}/accountId` };
  }
  if (/^#\/(anyOf|oneOf)\b/.test(first.schemaPath)) {
    return { error: 'invalid_input', message: `${context}/accountId or ${context}/email is required (exactly one of them)`, field: `${context}/accountId` };
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
      message = `${field} is malformed${field.endsWith('email') ? ' (expected an email address)' : ''}`;
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
  return { error: 'invalid_input', message, field };
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
