/** Identifiers every layer agrees on: how a workflow is named, what an account id looks like. */

/** Account and request ids are UUIDs (CONTRACT §2); any version, any case. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID_PATTERN.test(value);

/** One execution per account: requests from every channel for one account meet in it. */
export const deletionWorkflowId = (accountId: string): string => `deletion-${accountId.toLowerCase()}`;

/** Sweeps are named `inactivity-sweep-…`: the Schedule's runs and the ones the API starts. */
export const SWEEP_WORKFLOW_PREFIX = 'inactivity-sweep';

/** The daily Schedule that starts the inactivity sweep. */
export const SWEEP_SCHEDULE_ID = 'lethe-inactivity-sweep';
