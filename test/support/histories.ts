/**
 * The committed workflow histories (test/histories/) and the key they are encrypted with.
 *
 * TEST-ONLY KEY. `HISTORY_TEST_KEYS` below encrypts the histories recorded by
 * test/deletion/replay.test.ts and test/sweep/record-histories.test.ts, so they are stored the
 * way production stores histories (Lethe's AES-256-GCM payload codec, encryption/codec.ts) and
 * still replay in every later run. It is committed on purpose, protects nothing, and must never
 * be configured anywhere but a test: a production ring must not contain its key id
 * (`lethe-test-histories-only`), and no production history is ever re-encrypted with it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DataConverter, PayloadCodec } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { createEncryptionCodec, FAILURE_CONVERTER_PATH, parseKeyRing, type KeyRing } from '../../encryption';
import { WORKFLOWS_PATH } from '../../worker/worker';
import { isLocalActivityMarkerData, isPatchMarkerData } from '../privacy/support/scan';

export const HISTORY_TEST_KEY_ID = 'lethe-test-histories-only';
/** TEST-ONLY (see above): `LETHE_ENCRYPTION_KEYS` for the workers and clients that record histories. */
export const HISTORY_TEST_KEYS = `${HISTORY_TEST_KEY_ID}:bSq5ptpW2f9Y2mi0cpcjH8SWGnlXI6bYxFa8aq4FDG8=`;

export const HISTORIES_DIR = path.resolve(__dirname, '..', 'histories');
/** Histories recorded before payload encryption existed: plain JSON payloads, replayed through the same codec. */
export const PLAINTEXT_HISTORIES_DIR = path.join(HISTORIES_DIR, 'plaintext');

/** The env a recording worker and client run with: the test key only, never the stack's own. */
export const HISTORY_RECORDING_ENV = { LETHE_ENCRYPTION_KEYS: HISTORY_TEST_KEYS, LETHE_ENCRYPTION_KEYS_FILE: '', LETHE_ENCRYPTION_KEY_ID: '' };

/**
 * The key ring replay decodes with: the test key, plus (for an operator replaying a production
 * history locally, never committed) the keys in the file `LETHE_REPLAY_KEYS_FILE` names, in
 * the format of LETHE_ENCRYPTION_KEYS_FILE.
 */
export function replayKeyRing(env: NodeJS.ProcessEnv = process.env): KeyRing {
  const extra = env.LETHE_REPLAY_KEYS_FILE ? fs.readFileSync(env.LETHE_REPLAY_KEYS_FILE, 'utf8') : '';
  return parseKeyRing(`${HISTORY_TEST_KEYS}\n${extra}`, HISTORY_TEST_KEY_ID);
}

/** Lethe's data converter (encryption/data-converter.ts) over the given ring: what the worker decodes with. */
export function replayDataConverter(ring: KeyRing = replayKeyRing()): DataConverter {
  return { payloadCodecs: [createEncryptionCodec(ring)], failureConverterPath: FAILURE_CONVERTER_PATH };
}

export function replayCodec(ring: KeyRing = replayKeyRing()): PayloadCodec {
  return createEncryptionCodec(ring);
}

/** The history files of a folder (not recursive). */
export function historyFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(dir, f));
}

/**
 * Reads a history file in either form Lethe writes or an operator saves:
 * - proto3 JSON, what `temporal workflow show --output json` prints and the deletion histories
 *   are (timestamps as RFC 3339 strings, durations as "10s", enums possibly in the short form
 *   "WorkflowExecutionStarted"): the SDK's own reader, historyFromJSON; and
 * - protobufjs' toJSON of `handle.fetchHistory()`, what the sweep's recorder writes (timestamps
 *   as `{seconds, nanos}`), which protobufjs reads back as it is.
 * (historyFromJSON needs the one copy of protobufjs that package.json's direct dependency
 * keeps: with a copy each under @temporalio/common and @temporalio/proto it refused every
 * history, "type must be a Type".)
 */
export function readHistory(file: string): temporal.api.history.v1.History {
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { events?: unknown }).events)) {
    throw new Error(`${file}: not a workflow history (expected an object with an "events" array)`);
  }
  const [first] = (json as { events: { eventTime?: unknown }[] }).events;
  if (typeof first?.eventTime === 'string') return temporal.api.history.v1.History.fromObject(historyFromJSON(json));
  return temporal.api.history.v1.History.fromObject(json as Record<string, unknown>);
}

/** A payload found in a history file, with where it is (a JSON path). */
export interface FoundPayload {
  where: string;
  metadata: Record<string, string>;
  data: string;
}

/**
 * Every Payload in a history file's JSON: any object with a `metadata` map and base64 `data`
 * (inputs, results, memos, heartbeats, failures' encoded attributes and details, headers,
 * search attributes).
 */
export function payloadsIn(json: unknown, where = '$'): FoundPayload[] {
  if (Array.isArray(json)) return json.flatMap((x, i) => payloadsIn(x, `${where}[${i}]`));
  if (typeof json !== 'object' || json === null) return [];
  const o = json as Record<string, unknown>;
  if (typeof o.metadata === 'object' && o.metadata !== null && !Array.isArray(o.metadata) && ('data' in o || 'encoding' in o.metadata)) {
    return [{ where, metadata: o.metadata as Record<string, string>, data: typeof o.data === 'string' ? o.data : '' }];
  }
  return Object.entries(o).flatMap(([k, v]) => payloadsIn(v, `${where}.${k}`));
}

export const b64 = (s: string | undefined): string => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

/** Where Temporal keeps a payload that never passes a data converter, by design. */
export function bypassesCodec(where: string): 'search_attribute' | 'patch_marker' | 'local_activity_marker' | undefined {
  // Search attributes are indexed by the server; Lethe puts only ids, times and states there.
  if (where.includes('.searchAttributes.')) return 'search_attribute';
  // The SDK's own markers, written by its core: a patch's id, and a local activity's `data` (which
  // activity, which attempt, when; the privacy scan holds it to those keys). Its `result` is encrypted.
  if (isPatchMarkerData(where)) return 'patch_marker';
  if (isLocalActivityMarkerData(where)) return 'local_activity_marker';
  return undefined;
}

const toPayload = (p: FoundPayload) => ({ metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])), data: Buffer.from(p.data, 'base64') });

/**
 * Decodes every payload of a history file with the codec: a payload the ring cannot open fails
 * here with the codec's own message (which key, and what is wrong) and where it is. Replay alone
 * would report it only as the workflow task's failure, whose message is itself encrypted.
 */
export async function decodeAll(file: string, codec: PayloadCodec): Promise<{ where: string; text: string }[]> {
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  const out: { where: string; text: string }[] = [];
  for (const p of payloadsIn(json)) {
    if (bypassesCodec(p.where) === 'search_attribute') continue;
    try {
      const [decoded] = await codec.decode([toPayload(p)]);
      out.push({ where: p.where, text: Buffer.from(decoded.data ?? []).toString('utf8') });
    } catch (err) {
      throw new Error(`${path.basename(file)} ${p.where}: ${(err as Error).message}`);
    }
  }
  return out;
}

/**
 * The same history as if the freeze's local-activity marker had ended the first workflow task and
 * the commands after it had come in a second task: how load-faults recorded a deletion whose
 * first task also carried a signal and a query. Event ids after the marker move up by the three
 * events inserted, and every reference to them follows. Written next to nothing: a temp file.
 */
export function splitAfterFreeze(file: string, dir: string): string {
  type Event = Record<string, unknown> & { eventId: string | number; eventType: string; eventTime?: unknown };
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { events: Event[] };
  const events = json.events;
  const at = events.findIndex((e) => (e.markerRecordedEventAttributes as { markerName?: string } | undefined)?.markerName === 'core_local_activity');
  if (at < 0) throw new Error(`${path.basename(file)}: no local activity marker to split after`);
  const markerId = Number(events[at].eventId);
  const shift = (o: unknown): void => {
    if (Array.isArray(o)) return o.forEach(shift);
    if (typeof o !== 'object' || o === null) return;
    const rec = o as Record<string, unknown>;
    for (const [k, v] of Object.entries(rec)) {
      if ((k === 'eventId' || k.endsWith('EventId')) && (typeof v === 'string' || typeof v === 'number') && /^\d+$/.test(String(v))) {
        if (Number(v) > markerId) rec[k] = typeof v === 'number' ? v + 3 : String(Number(v) + 3);
      } else shift(v);
    }
  };
  const rest = events.slice(at + 1);
  shift(rest);
  const like = (type: string): Event => structuredClone(events.find((e) => e.eventType === type)!);
  const [scheduled, started, completed] = ['EVENT_TYPE_WORKFLOW_TASK_SCHEDULED', 'EVENT_TYPE_WORKFLOW_TASK_STARTED', 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED'].map(like);
  [scheduled, started, completed].forEach((e, i) => Object.assign(e, { eventId: String(markerId + 1 + i), eventTime: events[at].eventTime }));
  (started.workflowTaskStartedEventAttributes as Record<string, unknown>).scheduledEventId = String(markerId + 1);
  Object.assign(completed.workflowTaskCompletedEventAttributes as Record<string, unknown>, { scheduledEventId: String(markerId + 1), startedEventId: String(markerId + 2) });
  json.events = [...events.slice(0, at + 1), scheduled, started, completed, ...rest];
  const out = path.join(dir, `split-${path.basename(file)}`);
  fs.writeFileSync(out, JSON.stringify(json));
  return out;
}

/** Replays a history file through Lethe's data converter over `ring`, as the worker would run it. */
export async function replayHistoryFile(file: string, ring: KeyRing = replayKeyRing()): Promise<void> {
  await decodeAll(file, createEncryptionCodec(ring));
  await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH, dataConverter: replayDataConverter(ring) }, readHistory(file), `replay-${path.basename(file)}`);
}
