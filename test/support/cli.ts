/** The `lethe` CLI run in process against a test API, its output captured (the CLI tests' one way in). */
import { runCli } from '../../client/cli/main';
import type { Io } from '../../client/cli/command';
import type { TestApi } from './api';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `lethe <args>` with the API's URL and token in its environment, as a person's shell would set them. */
export async function runLethe(api: Pick<TestApi, 'url' | 'token'>, args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, env: { LETHE_API_URL: api.url, LETHE_API_TOKEN: api.token } } as unknown as Io;
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}
