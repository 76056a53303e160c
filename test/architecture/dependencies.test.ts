/**
 * One protobufjs for the Temporal SDK: with a copy each under @temporalio/common and
 * @temporalio/proto (npm nested them under a protobufjs 7 that @grpc/proto-loader wants), the
 * SDK's historyFromJSON refused every history ("type must be a Type"), so an operator could not
 * load a history saved from the CLI or the Web UI with the SDK. package.json keeps the one copy
 * with a direct dependency on the version the SDK asks for.
 */
import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { HISTORIES_DIR } from '../support/histories';

const PACKAGES = ['@temporalio/common', '@temporalio/proto', '@temporalio/worker'];

describe('dependencies: protobufjs', () => {
  test('when the SDK packages load protobufjs, then they all load the same copy', () => {
    const copies = new Set(PACKAGES.map((p) => require.resolve('protobufjs', { paths: [path.dirname(require.resolve(`${p}/package.json`))] })));
    expect([...copies]).toHaveLength(1);
  });

  test('when a committed history in proto3 JSON (the CLI form) is read with historyFromJSON, then every event loads', () => {
    const file = path.join(HISTORIES_DIR, 'deletion-single-channel.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { events: unknown[] };
    const history = historyFromJSON(json);
    expect(history.events).toHaveLength(json.events.length);
    expect(history.events?.[0]?.eventType).toBe(temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
    expect(history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name).toBe('accountDeletionWorkflow');
    // What the SDK's replay takes: it encodes.
    expect(temporal.api.history.v1.History.encode(temporal.api.history.v1.History.fromObject(history)).finish().length).toBeGreaterThan(1000);
  });
});
