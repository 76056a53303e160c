/**
 * One CSV cell (RFC 4180), shared by every CSV Lethe writes for people to open: the console's
 * report export (client/console) and the access archive's tables (activities/access/render.ts).
 * A spreadsheet treats a cell starting `=`, `+`, `-` or `@` (or a tab or carriage return before
 * one) as a formula, so a value a person or a vendor wrote could run as one when the file is
 * opened ("CSV injection", OWASP): such a cell gets a leading `'`, which spreadsheets show as
 * text. A number (`-12.5`) is left as it is.
 */
export function csvCell(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) && !/^-?\d/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
