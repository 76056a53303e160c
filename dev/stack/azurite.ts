/** Azurite, Microsoft's Blob Storage emulator from npm (blob service only). */
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
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

export async function ensureContainers(connectionString: string, containers: string[]): Promise<void> {
  const svc = BlobServiceClient.fromConnectionString(connectionString);
  for (const name of containers) await svc.getContainerClient(name).createIfNotExists();
}
