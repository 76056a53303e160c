/**
 * The transport under the `recurly` SDK: Node's fetch, with a timeout, paced by Recurly's
 * rate-limit headers (stores/vendorPace.ts), and (sandbox only) the SDK's fixed
 * https://v3.recurly.com origin swapped for a configured base URL.
 *
 * Two things api.yaml documents that the SDK leaves to its caller ("SDK support: Native
 * `Idempotency-Key` management ... is currently supported only in the Ruby SDK"):
 * - every write carries an `Idempotency-Key`: the caller's, derived from the request and the step
 *   (stores/recurly.ts), or else a random one, the same across this adapter's own resends;
 * - a write answered 409 with `Recurly-Should-Retry: true` (the same key still in flight) is
 *   sent again after its `Retry-After`.
 * And "Rate Limits": a production site counts GETs only, so there writes are not paced (they
 * neither wait for the window nor count in it); a sandbox site counts every request.
 */
import { randomUUID } from 'node:crypto';
import { HttpAdapter, HttpResponse } from 'recurly/lib/recurly/HttpAdapter';
import type { VendorPace } from './vendorPace';

/** Thrown for failures below HTTP; the client turns it into VendorError 'unavailable'. */
export class RecurlyTransportError extends Error {
  constructor(readonly reason: 'timeout' | 'network') {
    super(`recurly transport failed: ${reason}`);
    this.name = 'RecurlyTransportError';
  }
}

export class FetchHttpAdapter extends HttpAdapter {
  private readonly base?: string;

  constructor(private readonly opts: { baseUrl?: string; timeoutMs: number; pace?: VendorPace; site?: 'sandbox' | 'production' }) {
    super();
    this.base = opts.baseUrl?.replace(/\/+$/, '');
  }

  async execute(method: string, url: string, headers: Record<string, string>, body: string | null): Promise<HttpResponse> {
    const write = method !== 'GET' && method !== 'HEAD';
    const sent = write && !Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key') ? { ...headers, 'Idempotency-Key': randomUUID() } : headers;
    for (let attempt = 0; ; attempt++) {
      const res = await this.paced(write, () => this.send(method, url, sent, body));
      const h = res.headers as Record<string, string>;
      const after = Number(h['retry-after']);
      if (!write || res.statusCode !== 409 || h['recurly-should-retry'] !== 'true' || attempt >= MAX_IN_FLIGHT_RESENDS || !Number.isFinite(after)) return res;
      await sleep(Math.min(after, 10) * 1000);
    }
  }

  private paced(write: boolean, send: () => Promise<HttpResponse>): Promise<HttpResponse> {
    const pace = this.opts.pace;
    if (!pace) return send();
    const headersOf = (r: HttpResponse) => (name: string) => (r.headers as Record<string, string>)[name];
    if (write && this.opts.site === 'production') {
      // Not counted by a production site: sent at once; its headers still tell the GETs' window.
      return send().then((r) => {
        pace.observe(headersOf(r));
        return r;
      });
    }
    // Each send starts its own timeout, so a wait for the window's reset never counts against it.
    return pace.run(send, (r) => r.statusCode, headersOf);
  }

  private async send(method: string, url: string, headers: Record<string, string>, body: string | null): Promise<HttpResponse> {
    const target = this.base ? this.base + pathAndQuery(url) : url;
    try {
      const res = await fetch(target, {
        method,
        headers,
        body: body ?? undefined,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      const text = await res.text();
      const out: Record<string, string> = {};
      res.headers.forEach((value, name) => {
        out[name] = value;
      });
      return new HttpResponse(res.status, out, text);
    } catch (err) {
      const name = (err as { name?: unknown })?.name;
      throw new RecurlyTransportError(name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network');
    }
  }
}

/** A write still in flight under its key is sent again this many times at most. */
const MAX_IN_FLIGHT_RESENDS = 3;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function pathAndQuery(url: string): string {
  const u = new URL(url);
  return u.pathname + u.search;
}
