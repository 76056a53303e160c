/**
 * Access requests (CONTRACT §8): where a request's archive lives in Lethe's private container.
 * Here because the API records it when the request is filed (client/access.ts) and the
 * activities write and delete there (activities/access/): one name for both layers.
 */

/** The folder of one request's archive, its parts and its staged data. */
export const archivePrefix = (requestId: string): string => `access/${requestId.toLowerCase()}/`;
