/**
 * The shape of the product, enforced: no import cycle, no import from the product into the
 * development tooling, layers that only import downwards, and workflow code that imports only
 * the contract and the workflow SDK (anything else would be bundled into the sandbox).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cycles, folderOf, importsOf, listFiles, PRODUCT, ROOT, TOOLING, type Edge } from './import-graph';
import { WORKER_NODE_FLAGS, WORKER_PROCESS_ENV } from '../../worker/process';

/**
 * What each product folder may import at run time (type-only imports are erased and may point
 * anywhere in the product). The order is the layering: nothing imports upwards.
 */
const MAY_IMPORT: Record<(typeof PRODUCT)[number], string[]> = {
  contract: ['contract'],
  logging: ['logging'],
  // Given its keys by its callers (config reads them): the config module sits above it.
  encryption: ['encryption', 'contract'],
  config: ['config', 'encryption', 'contract'],
  stores: ['stores', 'config', 'contract', 'logging'],
  migrations: ['migrations'],
  // Outbound mail (SMTP) is an outside system like the stores: activities and the API send through it.
  mail: ['mail', 'config', 'contract', 'logging'],
  activities: ['activities', 'stores', 'mail', 'config', 'contract', 'logging'],
  workflows: ['workflows', 'contract'],
  client: ['client', 'contract', 'config', 'encryption', 'stores', 'mail', 'migrations', 'logging', 'workflows'],
  worker: [...PRODUCT],
};

/** Packages the deterministic code may use: the workflow SDK and the common types it re-exports. */
const WORKFLOW_PACKAGES: Record<string, string[]> = {
  workflows: ['@temporalio/workflow'],
  contract: ['@temporalio/workflow', '@temporalio/common'],
};

/** The run-time imports from a product layer into one it may not import. */
function upwardImports(all: Edge[]): string[] {
  return all.filter((e) => !e.external && !e.typeOnly && !MAY_IMPORT[folderOf(e.from) as keyof typeof MAY_IMPORT].includes(folderOf(e.to))).map((e) => `${e.from} -> ${e.to}`);
}

const productFiles = listFiles(PRODUCT);
const edges: Edge[] = productFiles.flatMap(importsOf);

describe('architecture: the product import graph', () => {
  test('when the product is read, then it has files in every layer and imports to check', () => {
    for (const f of PRODUCT) expect(productFiles.some((p) => folderOf(p) === f)).toBe(true);
    expect(edges.filter((e) => !e.external).length).toBeGreaterThan(100);
  });

  test('when every import is followed, then no file reaches itself (no cycle)', () => {
    expect(cycles(productFiles, edges)).toEqual([]);
  });

  test('when the product imports, then never from the development tooling (dev/, test/, bench/, scripts/)', () => {
    const bad = edges.filter((e) => !e.external && (TOOLING as readonly string[]).includes(folderOf(e.to)));
    expect(bad.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  test('when a layer imports at run time, then only from itself or the layers below it', () => {
    expect(upwardImports(edges)).toEqual([]);
  });

  test('when workflow or contract code imports, then only the contract, the workflow SDK, and types', () => {
    const bad = edges.filter((e) => {
      const folder = folderOf(e.from);
      if (!(folder in WORKFLOW_PACKAGES) || e.typeOnly) return false;
      return e.external ? !WORKFLOW_PACKAGES[folder].includes(e.to) : !['contract', folder].includes(folderOf(e.to));
    });
    expect(bad.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  test('when the checker meets a cycle or an upward import, then it reports them (the check can fail)', () => {
    const files = ['a.ts', 'b.ts', 'c.ts'];
    const looped: Edge[] = [
      { from: 'a.ts', to: 'b.ts', typeOnly: false, external: false },
      { from: 'b.ts', to: 'c.ts', typeOnly: true, external: false },
      { from: 'c.ts', to: 'a.ts', typeOnly: false, external: false },
    ];
    expect(cycles(files, looped)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    expect(cycles(files, looped.slice(0, 2))).toEqual([]);
    const up: Edge = { from: 'encryption/data-converter.ts', to: 'config/index.ts', typeOnly: false, external: false };
    expect(upwardImports([up])).toEqual(['encryption/data-converter.ts -> config/index.ts']);
    expect(upwardImports([{ ...up, from: 'config/keys.ts', to: 'encryption/keys.ts' }])).toEqual([]);
  });
});

describe('architecture: the production image', () => {
  const ignore = fs
    .readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

  test('when the image is built from a working copy, then its context leaves out local state, tests and dev tooling', () => {
    for (const p of ['.lethe', '.tools', 'node_modules', 'dist', ...TOOLING, '.git', 'test-artifacts']) expect(ignore).toContain(p);
    // Every folder the product runs from is sent; nothing else at the top level that holds code.
    for (const f of PRODUCT) expect(ignore).not.toContain(f);
    const topLevel = fs.readdirSync(ROOT, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules');
    const sent = topLevel.map((e) => e.name).filter((n) => !ignore.includes(n));
    expect(sent.sort()).toEqual([...PRODUCT, 'bin', 'docs'].sort());
  });

  test('when the image starts, then it runs compiled JavaScript, not a TypeScript loader', () => {
    const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(dockerfile);
    expect(cmd).not.toBeNull();
    const argv = JSON.parse(cmd![1]) as string[];
    expect(argv).not.toContain('tsx');
    expect(argv.join(' ')).not.toMatch(/--import|\.ts\b/);
    expect(argv[argv.length - 1]).toMatch(/^dist\/.*\.js$/);
    const build = JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[]; compilerOptions: { outDir: string } };
    expect(build.compilerOptions.outDir).toBe('dist');
    expect([...build.include].sort()).toEqual([...PRODUCT].sort());
  });

  test('when the image or the compose file starts a worker, then with the Node flags and environment the embedded stack uses (worker/process.ts)', () => {
    const cmd = JSON.parse(/^CMD\s+(\[.*\])\s*$/m.exec(dockerfile)![1]) as string[];
    expect(cmd).toEqual(['node', ...WORKER_NODE_FLAGS, 'dist/worker/main.js']);
    for (const [name, value] of Object.entries(WORKER_PROCESS_ENV)) expect(dockerfile).toMatch(new RegExp(`^ENV .*\\b${name}=${value}\\b`, 'm'));
    const compose = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
    const worker = /^ {2}lethe-worker:\n(?: {4}.*\n)*? {4}command: (\[.*\])$/m.exec(compose);
    expect(worker).not.toBeNull();
    expect(JSON.parse(worker![1].replace(/'/g, '"'))).toEqual(['node', ...WORKER_NODE_FLAGS, 'dist/worker/main.js']);
  });
});

describe('architecture: the compiled build', () => {
  test('when the product is compiled as the image compiles it, then the worker bundles its workflows from the JavaScript', async () => {
    const { execFileSync } = await import('node:child_process');
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe' });
    const { WORKFLOWS_PATH } = (await import(path.join(ROOT, 'dist', 'worker', 'worker.js'))) as { WORKFLOWS_PATH: string };
    expect(WORKFLOWS_PATH).toBe(path.join(ROOT, 'dist', 'workflows', 'index.js'));
    // The image builds the bundle with this command and points the worker at it.
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const run = /^RUN node (dist\/worker\/bundle\.js) (\S+)$/m.exec(dockerfile);
    expect(run).not.toBeNull();
    expect(dockerfile).toMatch(new RegExp(`LETHE_WORKFLOW_BUNDLE=/app/${run![2].replace(/\./g, '\\.')}\\b`));
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-bundle-')), 'workflow-bundle.js');
    execFileSync(process.execPath, [run![1], out], { cwd: ROOT, stdio: 'pipe' });
    const code = fs.readFileSync(out, 'utf8');
    for (const name of ['accountDeletionWorkflow', 'inactivitySweepWorkflow', 'stackCheckWorkflow']) expect(code).toContain(name);
    // The failure converter the worker's DataConverter names by path is inside it.
    expect(code).toContain(path.join('dist', 'encryption', 'failure-converter.js'));
  }, 180_000);
});
