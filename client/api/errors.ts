/**
 * Every error the API answers has one shape, `{ error, message, field? }`: `error` a stable
 * code for programs, `message` a sentence for people that names the offending field as
 * `body/channel`, `querystring/status` or `params/requestId`.
 */
import type { FastifyError } from 'fastify';
import { describeViolation, type SchemaViolation } from '../validation';

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

/** One sentence naming the field, from the first schema violation Ajv reports. */
export function validationErrorBody(err: FastifyError, body?: unknown): ApiErrorBody {
  const context = (err as { validationContext?: string }).validationContext ?? 'body';
  const first = ((err as { validation?: SchemaViolation[] }).validation ?? [])[0];
  if (!first) return { error: 'invalid_input', message: err.message };
  return { error: 'invalid_input', ...describeViolation(first, context, body) };
}
