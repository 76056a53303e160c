/**
 * How each workflow moves between worker deployment versions (docs/releasing.md). A deletion
 * runs to its end on the build that started it, so a release never changes the commands of a
 * deletion in flight and needs no patch(); the sweep and the stack check take the worker's
 * default, auto-upgrade: each moves to the current build at its next workflow task, so a change
 * to their commands needs a patch().
 */
import { setWorkflowOptions } from '@temporalio/workflow';
import { accountDeletionWorkflow } from './deletion';
import { requestVerificationWorkflow } from './verification';
import { accountCorrectionWorkflow } from './correction';
import { accessRequestWorkflow } from './access';

setWorkflowOptions({ versioningBehavior: 'PINNED' }, accountDeletionWorkflow);
// A request waiting for the person lives at most LETHE_VERIFICATION_TTL (a day): pinned too, so a
// change to it needs no patch, and an old version drains within that time.
setWorkflowOptions({ versioningBehavior: 'PINNED' }, requestVerificationWorkflow);
// An access request lives until its archive's link expires (LETHE_ACCESS_LINK_TTL, a week):
// pinned like a deletion, so a change to it needs no patch; an old version drains within that.
setWorkflowOptions({ versioningBehavior: 'PINNED' }, accessRequestWorkflow);
// A correction waits at most for its email link (LETHE_VERIFICATION_TTL) and its stores: pinned like a
// deletion, so a change to it needs no patch.
setWorkflowOptions({ versioningBehavior: 'PINNED' }, accountCorrectionWorkflow);
