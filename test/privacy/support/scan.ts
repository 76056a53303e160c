/**
 * Reading Temporal's raw records the way someone with database access but no key would, and
 * finding personal values in them: every string and every byte array (payload data and
 * metadata, failure texts, search attributes) becomes text to search.
 */
import type { Payload } from '@temporalio/common';

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array || ArrayBuffer.isView(v);

/** All text in `value`: strings, keys, and byte arrays read as UTF-8 and as Latin-1. */
export function haystack(value: unknown): string {
  const parts: string[] = [];
  const seen = new WeakSet<object>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') parts.push(v);
    else if (isBytes(v)) {
      const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      parts.push(b.toString('utf8'), b.toString('latin1'));
    } else if (v && typeof v === 'object') {
      if (seen.has(v)) return;
      seen.add(v);
      for (const [k, x] of Object.entries(v)) {
        parts.push(k);
        walk(x);
      }
    }
  };
  walk(value);
  return parts.join('\n');
}

/** Which of `values` occur in the text, case-insensitively. */
export function found(text: string, values: string[]): string[] {
  const lower = text.toLowerCase();
  return values.filter((v) => lower.includes(v.toLowerCase()));
}

/**
 * Every payload in a raw record with where it sits, e.g. `events[0].workflowExecutionStartedEventAttributes.input.payloads[0]`.
 * A payload is an object with a metadata map whose `encoding` is bytes.
 */
export function payloadsIn(value: unknown, at = ''): { path: string; payload: Payload }[] {
  const out: { path: string; payload: Payload }[] = [];
  const walk = (v: unknown, p: string): void => {
    if (!v || typeof v !== 'object' || isBytes(v)) return;
    const meta = (v as Payload).metadata;
    if (meta && typeof meta === 'object' && isBytes((meta as Record<string, unknown>).encoding)) {
      out.push({ path: p, payload: v as Payload });
      return;
    }
    for (const [k, x] of Object.entries(v)) walk(x, Array.isArray(v) ? `${p}[${k}]` : p ? `${p}.${k}` : k);
  };
  walk(value, at);
  return out;
}

export const encodingOf = (p: Payload): string => Buffer.from(p.metadata?.encoding ?? []).toString('utf8');

/** A patch marker's data: written by the SDK's core (the patch id), never through the codec. */
export const isPatchMarkerData = (path: string): boolean => /markerRecordedEventAttributes\.details\.patch-data/.test(path);

/**
 * A local activity marker's `data` (the freeze, workflows/deletion.ts): written by the SDK's core
 * (which activity, which attempt, when), never through the codec. Its `result` does pass the codec.
 */
export const isLocalActivityMarkerData = (path: string): boolean => /markerRecordedEventAttributes\.details\.data\b/.test(path);

/**
 * The payloads that pass through Lethe's codec: all but the search attributes (indexed by the
 * server in plain text, ids only), the patch markers' ids and the local activity markers' data.
 */
export const codecPayloads = (value: unknown): { path: string; payload: Payload }[] =>
  payloadsIn(value).filter((p) => !/searchAttributes/.test(p.path) && !isPatchMarkerData(p.path) && !isLocalActivityMarkerData(p.path));
