/**
 * How each workflow moves between worker deployment versions (docs/releasing.md). A deletion
 * runs to its end on the build that started it, so a release never changes the commands of a
 * deletion in flight and needs no patch(); the sweep and the stack check take the worker's
 * default, auto-upgrade: each moves to the current build at its next workflow task, so a change
 * to their commands needs a patch().
 */
import { setWorkflowOptions } from '@temporalio/workflow';
import { accountDeletionWorkflow } from './deletion';

setWorkflowOptions({ versioningBehavior: 'PINNED' }, accountDeletionWorkflow);
