import net from 'node:net';

/** Asks the kernel for a free loopback port (tests run their own stack beside `npm start`). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function isListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    sock.setTimeout(1000);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('timeout', () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('error', () => resolve(false));
  });
}

export async function waitFor(what: string, check: () => Promise<boolean>, opts: { timeoutMs: number; intervalMs?: number; aborted?: () => string | undefined }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const reason = opts.aborted?.();
    if (reason) throw new Error(`${what} did not start: ${reason}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} was not ready after ${Math.round(opts.timeoutMs / 1000)}s`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}
