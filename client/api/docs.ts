/**
 * The API's docs page: rendered on the server from the OpenAPI document, self-contained (no
 * script, no outside asset), so it works offline and under a strict Content-Security-Policy.
 */
type Json = Record<string, unknown>;

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

export function renderDocs(doc: Json): string {
  const info = (doc.info ?? {}) as Json;
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Json>>;
  const ops: string[] = [];
  const toc: string[] = [];
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const id = `${method}-${path}`.replace(/[^A-Za-z0-9]+/g, '-');
      const open = Array.isArray(op.security) && op.security.length === 0;
      toc.push(`<li><a href="#${esc(id)}"><code class="m ${method}">${method.toUpperCase()}</code> <code>${esc(path)}</code></a> ${esc(op.summary ?? '')}</li>`);
      const params = ((op.parameters ?? []) as Json[])
        .map(
          (p) =>
            `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${p.required ? 'yes' : ''}</td><td><code>${esc(typeText(p.schema as Json))}</code></td><td>${esc(p.description ?? (p.schema as Json | undefined)?.description ?? '')}</td></tr>`,
        )
        .join('');
      const body = ((op.requestBody as Json | undefined)?.content as Record<string, Json> | undefined)?.['application/json']?.schema as Json | undefined;
      const responses = Object.entries((op.responses ?? {}) as Record<string, Json>)
        .map(([code, r]) => {
          const schema = Object.values((r.content ?? {}) as Record<string, Json>)[0]?.schema as Json | undefined;
          return `<details><summary><b>${esc(code)}</b> ${esc(r.description ?? '')}</summary>${schema ? `<pre>${esc(JSON.stringify(schema, null, 2))}</pre>` : ''}</details>`;
        })
        .join('');
      ops.push(
        `<section id="${esc(id)}"><h2><code class="m ${method}">${method.toUpperCase()}</code> <code>${esc(path)}</code></h2>` +
          `<p>${esc(op.summary ?? '')}${open ? ' <em>(no token needed)</em>' : ''}</p>` +
          (op.description ? `<p>${esc(op.description)}</p>` : '') +
          (params ? `<h3>Parameters</h3><table><tr><th>name</th><th>in</th><th>required</th><th>type</th><th></th></tr>${params}</table>` : '') +
          (body ? `<h3>Request body (application/json)</h3><pre>${esc(JSON.stringify(body, null, 2))}</pre>` : '') +
          `<h3>Responses</h3>${responses}</section>`,
      );
    }
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(info.title ?? 'API')}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
code,pre{font-family:ui-monospace,Menlo,monospace}pre{background:#f5f5f7;padding:.75rem;overflow:auto;font-size:13px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
.m{display:inline-block;min-width:3.5rem;font-weight:bold}.get{color:#0a6}.post{color:#06c}.delete{color:#c20}
section{border-top:1px solid #ddd;margin-top:2rem}</style></head><body>
<h1>${esc(info.title ?? 'API')} <small>${esc(info.version ?? '')}</small></h1><p>${esc(info.description ?? '')}</p>
<p>Machine-readable: <a href="/openapi.json"><code>/openapi.json</code></a> (OpenAPI ${esc(doc.openapi ?? '')}).</p>
<ul>${toc.join('')}</ul>${ops.join('')}</body></html>`;
}

function typeText(schema: Json | undefined): string {
  if (!schema) return '';
  if (Array.isArray(schema.enum)) return schema.enum.join(' | ');
  return [schema.type, schema.format].filter(Boolean).join(' ');
}
