/**
 * The lists' page cursors (`GET /v1/deletion-requests`, `GET /v1/requests`): the last row's sort
 * key (PostgreSQL's own text form of its timestamptz, so no precision is lost) and request id,
 * as opaque base64url. Each list names its own error for a cursor it did not hand out.
 */

/** PostgreSQL's text form of a timestamptz, e.g. `2026-11-29 02:44:01.123456+00`. */
const PG_TIMESTAMP = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d)?$/;

export function encodeCursor(timeKey: string, requestId: string): string {
  return Buffer.from(JSON.stringify([timeKey, requestId])).toString('base64url');
}

/** The cursor's sort key and request id, or undefined when it is not one a list handed out. */
export function decodeCursor(cursor: string): [string, string] | undefined {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && PG_TIMESTAMP.test(v[0]) && typeof v[1] === 'string' && v[1].length <= 64) return [v[0], v[1]];
  } catch {
    // not base64url JSON: not ours
  }
  return undefined;
}
