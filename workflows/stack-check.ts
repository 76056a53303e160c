import { proxyActivities } from '@temporalio/workflow';
import type { createStackCheckActivities, StackCheckResult } from '../activities/stack-check';

const { checkStores } = proxyActivities<ReturnType<typeof createStackCheckActivities>>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

/** Proves the worker reaches PostgreSQL, Blob Storage, Auth0 and Recurly. */
export async function stackCheckWorkflow(): Promise<StackCheckResult> {
  return await checkStores();
}
