/**
 * The declarative map of where an account's rows live (CONTRACT §2), in foreign-key-safe
 * order: children first, `accounts` last. Deletion and verification both read it, so a table
 * added here is deleted and verified; a table missing here is neither (nothing checks the live
 * schema against this map yet: the completeness guard of the failure-model issue will).
 */
export interface TableLink {
  table: string;
  /** Primary key, used to delete in bounded batches. */
  key: string;
  /** Column holding the account id. */
  accountColumn: string;
  /** Rows with no account id that still belong to the person, matched by email case-insensitively. */
  orphanEmailColumn?: string;
}

export const DATA_MAP: readonly TableLink[] = [
  { table: 'media', key: 'id', accountColumn: 'account_id' },
  { table: 'shares', key: 'id', accountColumn: 'account_id' },
  { table: 'login_events', key: 'id', accountColumn: 'account_id' },
  { table: 'subscriptions', key: 'id', accountColumn: 'account_id' },
  { table: 'support_requests', key: 'id', accountColumn: 'account_id', orphanEmailColumn: 'email' },
  { table: 'cameras', key: 'id', accountColumn: 'account_id' },
  { table: 'accounts', key: 'id', accountColumn: 'id' },
];
