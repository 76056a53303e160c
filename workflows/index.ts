// Everything exported here is bundled into the workflow sandbox: deterministic code only.
export { stackCheckWorkflow } from './stack-check';
export { accountDeletionWorkflow } from './deletion';
export { inactivitySweepWorkflow } from './sweep';
export { requestVerificationWorkflow } from './verification';
export { accountCorrectionWorkflow } from './correction';
export { accessRequestWorkflow } from './access';
// Pins the deletion to the version that started it (before any worker registers it).
import './versioning';
