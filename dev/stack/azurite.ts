/** Azurite, Microsoft's Blob Storage emulator from npm (blob service only). */
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import type { TokenCredential } from '@azure/identity';
import type { ServiceSpec } from './supervisor';
import { isListening } from './net';

export function azuriteSpec(opts: { port: number; location?: string; inMemory?: boolean }): ServiceSpec {
  const main = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
  const args = [
    main,
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(opts.port),
    // The SDK may speak a newer service version than this Azurite knows; the calls we use exist in both.
    '--skipApiVersionCheck',
    '--loose',
    '--silent',
  ];
  if (opts.inMemory || !opts.location) args.push('--inMemoryPersistence');
  else args.push('--location', opts.location);
  return {
    name: 'azurite',
    command: process.execPath,
    args,
    readyTimeoutMs: 30_000,
    ready: () => isListening(opts.port),
  };
}

/**
 * Creates Lethe's containers where missing: through a connection string (Azurite's, or the
 * operator's), or through an account URL signed in with Microsoft Entra ID (AZURE_STORAGE_ACCOUNT_URL,
 * DefaultAzureCredential as the worker uses; creating a container needs a data role that may write,
 * e.g. Storage Blob Data Owner, which Lethe needs anyway). A refusal there names the variable.
 */
export async function ensureContainers(target: string | { accountUrl: string; credential: TokenCredential }, containers: string[]): Promise<void> {
  const svc = typeof target === 'string' ? BlobServiceClient.fromConnectionString(target) : new BlobServiceClient(target.accountUrl, target.credential);
  for (const name of containers) {
    const container = svc.getContainerClient(name);
    if (typeof target === 'string') {
      await container.createIfNotExists();
      continue;
    }
    try {
      // Looked at first: an account's containers are usually made with it, by whoever made the
      // account, and reading them needs less of the identity than creating them.
      if (!(await container.exists())) await container.create();
    } catch (err) {
      const e = err as { statusCode?: number; code?: string; message?: string };
      throw new Error(
        `AZURE_STORAGE_ACCOUNT_URL: could not create or reach container "${name}" at ${target.accountUrl} with Microsoft Entra ID (${e.statusCode ?? ''} ${e.code ?? e.message ?? String(err)}): check the identity DefaultAzureCredential signs in as (AZURE_CLIENT_ID, managed or workload identity) and its role on the account (Storage Blob Data Owner)`.replace(
          /\s+/g,
          ' ',
        ),
      );
    }
  }
}
