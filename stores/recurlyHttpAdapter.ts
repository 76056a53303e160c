/**
 * The transport under the `recurly` SDK: Node's fetch, with a timeout, paced by Recurly's
 * rate-limit headers (stores/vendorPace.ts), and (sandbox only) the SDK's fixed
 * https://v3.recurly.com origin swapped for a configured base URL.
 */
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

  constructor(private readonly opts: { baseUrl?: string; timeoutMs: number; pace?: VendorPace }) {
    super();
    this.base = opts.baseUrl?.replace(/\/+$/, '');
  }

  async execute(method: string, url: string, headers: Record<string, string>, body: string | null): Promise<HttpResponse> {
    const pace = this.opts.pace;
    if (!pace) return this.send(method, url, headers, body);
    // Each send starts its own timeout, so a wait for the window's reset never counts against it.
    return pace.run(
      () => this.send(method, url, headers, body),
      (r) => r.statusCode,
      (r) => (name) => (r.headers as Record<string, string>)[name],
    );
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

function pathAndQuery(url: string): string {
  const u = new URL(url);
  return u.pathname + u.search;
}
