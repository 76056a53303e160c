/**
 * Debian's chromium for the browser test (Playwright's own browser downloads are not reachable
 * from here). `npm test` installs it before jest collects a file (scripts/ensure-test-packages.sh);
 * the test itself installs nothing and is never skipped: without the binary it fails, saying
 * what to install, so a machine without it cannot pass the suite with "1 skipped".
 */
import fs from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

/** The executable's path, or an error naming the package and the script that installs it. */
export function requireChromium(file: string = CHROMIUM): string {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return file;
  } catch (err) {
    throw new Error(
      `${file} is missing or not executable (${(err as NodeJS.ErrnoException).code ?? String(err)}): the Web UI test drives Debian's chromium. ` +
        'Install it with `apt-get install chromium` (as root), or run `bash scripts/ensure-test-packages.sh`, which `npm test` runs before jest.',
    );
  }
}
