/** Shapes shared by the deletion workflow and its activities. Ids, times and counts only. */
export type Channel = 'api' | 'email' | 'phone' | 'support' | 'in_app' | 'inactivity';
export const CHANNELS: readonly Channel[] = ['api', 'email', 'phone', 'support', 'in_app', 'inactivity'];

export interface DeletionInput {
  requestId: string;
  accountId: string;
  channel: Channel;
  /** RFC 3339; the deadline counts from here. */
  receivedAt: string;
  deadlineAt: string;
  warningAt: string;
  requestedBy?: string;
  /** Set by the inactivity sweep: when the account was selected, for the re-check. */
  selectedAt?: string;
}

export interface StoreCounts {
  recurly?: { subscriptionsTerminated: number; accountRedacted: boolean; hadAccount: boolean };
  auth0?: { usersDeleted: number; alreadyGone: number };
  media?: {
    blobsDeleted: number;
    byContainer: Record<string, number>;
    listCalls: number;
    batchCalls: number;
    /** The attempt started from a heartbeated cursor (a worker died mid-way). */
    resumed: boolean;
    listCallsThisAttempt?: number;
  };
  database?: Record<string, number>;
}

export interface Verification {
  clean: boolean;
  blobsRemaining: number;
  softDeletedRemaining: number;
  rowsRemaining: Record<string, number>;
  auth0UsersRemaining: number;
  recurly: 'absent' | 'redacted' | 'present' | 'none';
  checkedAt: string;
}

export interface Receipt {
  requestId: string;
  accountId: string;
  channel: Channel;
  channels: Channel[];
  receivedAt: string;
  deadlineAt: string;
  completedAt: string;
  overdue: boolean;
  passes: number;
  counts: StoreCounts;
  verification: Verification;
}
