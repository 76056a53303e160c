export function logFileOf(testPath: string, env?: NodeJS.ProcessEnv): string | undefined;
