/** Azure Blob Storage: the one module that knows the SDK. */
import { BlobServiceClient, ContainerClient } from '@azure/storage-blob';

export interface BlobStore {
  readonly service: BlobServiceClient;
  readonly containers: string[];
  container(name: string): ContainerClient;
  /** Fails unless every configured container is reachable. */
  ping(): Promise<void>;
}

export function createBlobStore(connectionString: string, containers: string[]): BlobStore {
  const service = BlobServiceClient.fromConnectionString(connectionString, {
    retryOptions: { maxTries: 2, tryTimeoutInMs: 30_000 },
  });
  return {
    service,
    containers,
    container: (name) => service.getContainerClient(name),
    async ping() {
      for (const c of containers) {
        if (!(await service.getContainerClient(c).exists())) throw new Error(`blob container "${c}" does not exist`);
      }
    },
  };
}
