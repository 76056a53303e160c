export { getDataConverter, getFieldCipher, getPayloadCodec, decodePayloads, FAILURE_CONVERTER_PATH } from './data-converter';
export { createEncryptionCodec, EncryptionError, ENCRYPTED_ENCODING, KEY_ID_METADATA, keyIdOf } from './codec';
export { KeyRing, KeyRingError, parseKeyRing, generateKeyEntry } from './keys';
export { createFieldCipher, lazyFieldCipher, isSealed, type FieldCipher } from './fields';
