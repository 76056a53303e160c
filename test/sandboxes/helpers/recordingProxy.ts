/**
 * A pass-through HTTP proxy that records every exchange, so a test can check what the real
 * SDKs sent and what the sandbox answered without hooks in production code.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Exchange {
  method: string;
  path: string;
  query: URLSearchParams;
  requestBody: string;
  status: number;
  responseHeaders: http.IncomingHttpHeaders;
  responseBody: string;
}

export interface RecordingProxy {
  url: string;
  exchanges: Exchange[];
  close(): Promise<void>;
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const exchanges: Exchange[] = [];
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const requestBody = Buffer.concat(chunks).toString('utf8');
      const headers = { ...req.headers, host: upstream.host };
      const out = http.request({ hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (up) => {
        const body: Buffer[] = [];
        up.on('data', (c: Buffer) => body.push(c));
        up.on('end', () => {
          const responseBody = Buffer.concat(body).toString('utf8');
          const url = new URL(req.url ?? '/', 'http://proxy.local');
          exchanges.push({
            method: req.method ?? 'GET',
            path: url.pathname,
            query: url.searchParams,
            requestBody,
            status: up.statusCode ?? 0,
            responseHeaders: up.headers,
            responseBody,
          });
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.end(responseBody);
        });
      });
      out.on('error', () => {
        res.statusCode = 502;
        res.end();
      });
      out.end(requestBody);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
