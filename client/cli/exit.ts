/** Exit codes of `lethe`, the same for every command (printed by `lethe --help`). */
export const EXIT = {
  ok: 0,
  /** The operation ran and failed: a deletion failed, a sweep failed, the API refused (429, 5xx). */
  failed: 1,
  /** Bad command line, or the API refused the input (400): fix the arguments. */
  usage: 2,
  notFound: 3,
  /** No token, or the API refused it (401), or its role does not allow the call (403). */
  auth: 4,
  /** The API or Temporal cannot be reached. */
  unreachable: 5,
  /** --wait gave up (--timeout) before the outcome. */
  timeout: 6,
} as const;

export const EXIT_HELP = `Exit codes:
  0  success (a status that is pending, running or completed)
  1  the operation failed (deletion failed, sweep failed, API error, rate limited)
  2  usage error (bad arguments, or the API answered 400 naming the field)
  3  not found (no such request, account or sweep)
  4  authentication (no token found, or the API answered 401, or 403: the token's role is short)
  5  unreachable (the API or Temporal does not answer)
  6  --wait timed out before the outcome`;

export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly body?: { error: string; message: string; field?: string },
  ) {
    super(message);
    this.name = 'CliError';
  }
}
