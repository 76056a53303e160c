/**
 * How a worker process is started, wherever it runs: the image (Dockerfile ENV and CMD, the
 * compose file's worker command), the embedded stack (`npm start`, the tests' stacks) and the
 * benches. They bound memory that the worker's own caps (config/budget.ts) cannot reach
 * (bench/RESULTS.md §3d: together with the compiled build, 0.68 of the peak under the same load):
 * - V8 grows each isolate's young generation to 3 × 16 MiB under allocation load, in the main
 *   thread and in the SDK's workflow thread alike; a deletion's short-lived objects fit in 2 MiB
 *   semi-spaces, at the cost of more frequent (cheap) scavenges.
 * - glibc gives threads up to 8 malloc arenas per core (the SDK's Rust runtime runs about 20
 *   threads), and each arena keeps what was freed in it; two arenas are enough for this load.
 * - V8 lets each isolate's old generation grow by a factor it picks from the allocation rate,
 *   up to 4 times what survived the last full collection, before collecting again
 *   (`--heap-growing-percent`, `node --v8-options`: "specifies heap growing factor as
 *   (1 + heap_growing_percent/100)"; 0, the default, is that heuristic). Under a burst the SDK's
 *   workflow thread, replaying evicted deletions, grew its pages to about 260 MiB around far
 *   less live data (bench/RESULTS.md §4e). At 1.5 times the worker peaked at 277 MiB against
 *   396 MiB with 300 deletions at once, at the same pace (§3k). Unlike a cap on the old space,
 *   it cannot abort the worker: it only collects sooner.
 * architecture.test.ts checks that the Dockerfile and the compose file say the same.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--heap-growing-percent=50'];
export const WORKER_PROCESS_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
