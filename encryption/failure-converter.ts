/**
 * Loaded by path (DataConverter.failureConverterPath) in the client and inside the workflow
 * sandbox, so this file imports nothing but @temporalio/common.
 *
 * encodeCommonAttributes moves each failure's message and stack trace into a payload, which
 * the encryption codec then encrypts: an error text can quote an email or a name ("no user
 * ada@example.com"), and history keeps failures as long as inputs.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
