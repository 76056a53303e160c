/**
 * The declarative map of where an account's rows live (CONTRACT §2), in foreign-key-safe
 * order: children first, `accounts` last. Deletion and verification both read it, so a table
 * added here is deleted and verified; a table missing here is neither, which is why the
 * completeness guard (`completeness.ts`) reads the live schema and fails on any table with an
 * account reference or personal data that this map does not cover and no waiver below explains.
 */
export interface TableLink {
  table: string;
  /** Primary key, used to delete in bounded batches. */
  key: string;
  /** Column holding the account id. */
  accountColumn: string;
  /**
   * Rows with no account id that still belong to the person, matched by email: in any letter
   * case, or only as spelt while another account holds a case variant (CONTRACT §2).
   */
  orphanEmailColumn?: string;
  /**
   * A column of other accounts' rows that names the person by email (a share sent to them):
   * those rows are deleted with the person, matched like `orphanEmailColumn`. The other account
   * loses its share to someone who no longer exists; the address was the deleted person's data.
   */
  recipientEmailColumn?: string;
}

export const DATA_MAP: readonly TableLink[] = [
  { table: 'media', key: 'id', accountColumn: 'account_id' },
  { table: 'shares', key: 'id', accountColumn: 'account_id', recipientEmailColumn: 'recipient_email' },
  { table: 'login_events', key: 'id', accountColumn: 'account_id' },
  { table: 'subscriptions', key: 'id', accountColumn: 'account_id' },
  { table: 'support_requests', key: 'id', accountColumn: 'account_id', orphanEmailColumn: 'email' },
  { table: 'cameras', key: 'id', accountColumn: 'account_id' },
  { table: 'accounts', key: 'id', accountColumn: 'id' },
];

/**
 * A column the completeness guard finds (an account reference, or a name or type like personal
 * data) that the data map deliberately does not delete. `reason` is mandatory: it is what a
 * reviewer reads to agree that nothing about a person is left behind.
 */
export interface Waiver {
  table: string;
  column: string;
  reason: string;
}

export const COMPLETENESS_WAIVERS: readonly Waiver[] = [
  {
    table: 'knex_migrations_app',
    column: 'name',
    reason:
      "knex's bookkeeping of the application migrations Lethe runs in development and tests (migrations/index.ts): " +
      'the file name of a migration such as 001_application_schema, never a person; the table does not exist in production',
  },
];

/**
 * Column names that hold personal data or identify a person at a vendor whatever their name
 * looks like, found in every table of the schema (`column`) or in one table (`table.column`).
 * The guard also finds columns by name patterns and by type on its own (see completeness.ts).
 */
export const PERSONAL_COLUMNS: readonly string[] = ['auth0_user_id', 'recurly_account_code', 'date_of_birth', 'birth_date', 'birthdate'];
