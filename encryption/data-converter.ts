/**
 * The one DataConverter of Lethe: the worker, the client (API, CLI, sweep) and the tests all
 * build theirs here, so nothing that talks to Temporal can write a readable payload or fail
 * to read an encrypted one. Each takes the key ring it is given (the config module reads it:
 * `requireKeyRing(config)`); nothing here knows where keys come from.
 */
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { createEncryptionCodec } from './codec';
import { lazyFieldCipher, type FieldCipher } from './fields';
import type { KeyRing } from './keys';

export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

export function getPayloadCodec(keys: KeyRing): PayloadCodec {
  return createEncryptionCodec(keys);
}

/** The sealer for personal fields in Lethe's tables (fields.ts); `keys` is called on first use. */
export function getFieldCipher(keys: () => KeyRing): FieldCipher {
  return lazyFieldCipher(keys);
}

export function getDataConverter(keys: KeyRing): DataConverter {
  return { payloadCodecs: [getPayloadCodec(keys)], failureConverterPath: FAILURE_CONVERTER_PATH };
}

/** Decodes raw payloads (e.g. heartbeat details from describe()) the way the SDK would. */
export async function decodePayloads(keys: KeyRing, payloads: Payload[]): Promise<Payload[]> {
  return getPayloadCodec(keys).decode(payloads);
}
