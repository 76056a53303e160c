/**
 * The one DataConverter of Lethe: the worker, the client (API, CLI, sweep) and the tests all
 * build theirs here, so nothing that talks to Temporal can write a readable payload or fail
 * to read an encrypted one.
 */
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { ConfigError, type Config } from '../config';
import { createEncryptionCodec } from './codec';
import { lazyFieldCipher, type FieldCipher } from './fields';
import type { KeyRing } from './keys';

export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/** The configured key ring, or the one-line error naming what to set. */
export function requireKeyRing(config: Pick<Config, 'encryption' | 'stateDir'>): KeyRing {
  if (!config.encryption.keys) {
    throw new ConfigError(
      'LETHE_ENCRYPTION_KEYS',
      `no encryption key configured: set LETHE_ENCRYPTION_KEYS or LETHE_ENCRYPTION_KEYS_FILE (the embedded stack writes one to ${config.stateDir}/encryption-keys on start)`,
    );
  }
  return config.encryption.keys;
}

export function getPayloadCodec(config: Config): PayloadCodec {
  return createEncryptionCodec(requireKeyRing(config));
}

/** The sealer for personal fields in Lethe's tables (fields.ts); the ring is read on first use. */
export function getFieldCipher(config: Pick<Config, 'encryption' | 'stateDir'>): FieldCipher {
  return lazyFieldCipher(() => requireKeyRing(config));
}

export function getDataConverter(config: Config): DataConverter {
  return { payloadCodecs: [getPayloadCodec(config)], failureConverterPath: FAILURE_CONVERTER_PATH };
}

/** Decodes raw payloads (e.g. heartbeat details from describe()) the way the SDK would. */
export async function decodePayloads(config: Config, payloads: Payload[]): Promise<Payload[]> {
  return getPayloadCodec(config).decode(payloads);
}
