/**
 * Which deletion step each activity serves: the names an operator sees in the `progress`
 * query, the API's status view and the worker's metrics. Activities not listed here (the
 * stack check, a sweep's) are reported under their own activity type.
 */
export const STEP_OF_ACTIVITY: Readonly<Record<string, string>> = {
  freezeAccount: 'freeze',
  recheckEligibility: 'recheck',
  releaseAccount: 'recheck',
  deleteRecurlyAccount: 'recurly',
  deleteAuth0User: 'auth0',
  deleteMediaBlobs: 'media',
  deleteDatabaseRows: 'database',
  verifyDeletion: 'verify',
  writeReceipt: 'receipt',
};

/** The outside system a step talks to, for vendor error counts. */
export const VENDOR_OF_STEP: Readonly<Record<string, string>> = {
  recurly: 'recurly',
  auth0: 'auth0',
  media: 'azure_blob',
};

export const stepOfActivity = (activityType: string): string => STEP_OF_ACTIVITY[activityType] ?? activityType;
