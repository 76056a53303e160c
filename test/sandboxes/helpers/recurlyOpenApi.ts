/**
 * Validation against the OpenAPI document shipped in the `recurly` package, so the sandbox and
 * Lethe's requests are held to Recurly's published schemas rather than to our reading of them.
 *
 * Three adjustments, each because the document and the live API disagree or Ajv cannot read
 * the document as written:
 * - patterns are written as JavaScript literals ("/^[a-z]+$/i"); they are unwrapped for Ajv;
 * - no property is declared `nullable`, yet Recurly sends null for unset values (its own client
 *   fixtures answer `"next": null`), so null-valued properties are dropped before validation;
 * - error responses are documented as `Error`, while the API (and the SDK, BaseClient.js)
 *   wraps them as `{ "error": Error }`; the wrapper is checked and its content validated;
 * - validation `params` items may carry a `message` beside `param`.
 * On top, undocumented properties are refused (`unevaluatedProperties: false`), so neither the
 * sandbox nor Lethe can invent fields.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

// js-yaml ships no types here; only `safeLoad`/`load` is needed.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require('js-yaml') as { safeLoad?: (s: string) => unknown; load: (s: string) => unknown };

type Json = Record<string, unknown>;

export interface Operation {
  operationId: string;
  method: string;
  template: string;
  regex: RegExp;
  parameters: Json[];
  requestSchema?: Json;
  responses: Record<string, Json | undefined>;
}

export interface RecurlyOpenApi {
  operations: Operation[];
  findOperation(method: string, path: string): Operation | undefined;
  /** Errors as readable strings; empty when valid. */
  validateResponse(op: Operation, status: number, body: unknown): string[];
  validateRequestBody(op: Operation, body: unknown): string[];
  validateQuery(op: Operation, query: URLSearchParams, allowed?: string[]): string[];
  validateSchema(name: string, value: unknown): string[];
}

const DOC_PATH = path.join(path.dirname(require.resolve('recurly/package.json')), 'openapi', 'api.yaml');

export function loadRecurlyOpenApi(): RecurlyOpenApi {
  const text = fs.readFileSync(DOC_PATH, 'utf8');
  const doc = (yaml.safeLoad ?? yaml.load)(text) as Json;
  const components = doc.components as Json;
  const schemas = components.schemas as Record<string, Json>;
  const parametersById = components.parameters as Record<string, Json>;

  fixPatterns(components);
  closeObjects(schemas, doc.paths);
  // Validation params carry a reason next to the param name ("find the invalid params and
  // reasons in err.params", say the SDK's own examples), which the document leaves out.
  for (const name of ['Error', `Error${CLOSED}`]) {
    const paramItems = ((schemas[name].properties as Json).params as Json).items as Json;
    delete paramItems.unevaluatedProperties;
  }

  const ajv = new Ajv2019({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  for (const f of ['float', 'double', 'decimal']) ajv.addFormat(f, { type: 'number', validate: () => true });
  for (const f of ['int32', 'int64']) ajv.addFormat(f, { type: 'number', validate: () => true });
  ajv.addFormat('binary', true);
  ajv.addSchema({ $id: 'recurly', components }, 'recurly');

  const compiled = new Map<string, ValidateFunction>();
  const validatorFor = (schema: Json): ValidateFunction => {
    const key = JSON.stringify(schema);
    let fn = compiled.get(key);
    if (!fn) {
      fn = ajv.compile(rebase(schema));
      compiled.set(key, fn);
    }
    return fn;
  };
  const run = (schema: Json, value: unknown): string[] => {
    const fn = validatorFor(schema);
    return fn(value) ? [] : formatErrors(fn.errors);
  };

  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths as Record<string, Json>)) {
    const shared = (item.parameters as Json[] | undefined) ?? [];
    for (const method of ['get', 'post', 'put', 'delete', 'patch', 'head']) {
      const op = item[method] as Json | undefined;
      if (!op) continue;
      const params = [...shared, ...((op.parameters as Json[] | undefined) ?? [])].map((p) => (typeof p.$ref === 'string' ? parametersById[p.$ref.split('/').pop()!] : p));
      const responses: Record<string, Json | undefined> = {};
      for (const [status, r] of Object.entries((op.responses as Record<string, Json>) ?? {})) {
        responses[status] = ((r.content as Json | undefined)?.['application/json'] as Json | undefined)?.schema as Json | undefined;
      }
      const requestSchema = ((op.requestBody as Json | undefined)?.content as Json | undefined)?.['application/json'] as Json | undefined;
      operations.push({
        operationId: String(op.operationId),
        method: method.toUpperCase(),
        template,
        regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
        parameters: params,
        requestSchema: requestSchema?.schema as Json | undefined,
        responses,
      });
    }
  }

  return {
    operations,
    findOperation: (method, p) => operations.find((o) => o.method === method && o.regex.test(p)),

    validateResponse(op, status, body) {
      const schema = op.responses[String(status)] ?? op.responses.default;
      if (!schema) return [`no response documented for ${op.operationId} ${status}`];
      if (status >= 200 && status < 300) return run(schema, dropNulls(body));
      const wrapped = body as { error?: unknown } | null;
      if (!wrapped || typeof wrapped !== 'object' || !('error' in wrapped)) return ['error response is not wrapped as {"error": ...}'];
      const extra = Object.keys(wrapped).filter((k) => k !== 'error');
      if (extra.length) return [`error response has undocumented top-level keys: ${extra.join(', ')}`];
      return run(schema, dropNulls(wrapped.error));
    },

    validateRequestBody(op, body) {
      if (!op.requestSchema) return body === undefined ? [] : [`${op.operationId} takes no request body`];
      return run(op.requestSchema, body);
    },

    validateQuery(op, query, allowed = []) {
      const errors: string[] = [];
      for (const [name, value] of query) {
        if (allowed.includes(name)) continue;
        const param = op.parameters.find((p) => p.in === 'query' && p.name === name);
        if (!param) {
          errors.push(`query parameter "${name}" is not documented for ${op.operationId}`);
          continue;
        }
        const schema = param.schema as Json;
        const resolved = typeof schema.$ref === 'string' ? schemas[schema.$ref.split('/').pop()!] : schema;
        const typed = resolved.type === 'integer' || resolved.type === 'number' ? Number(value) : resolved.type === 'boolean' ? value === 'true' : value;
        errors.push(...run(schema, typed).map((e) => `query ${name}: ${e}`));
      }
      return errors;
    },

    validateSchema: (name, value) => run({ $ref: `#/components/schemas/${schemas[name + CLOSED] ? name + CLOSED : name}` }, value),
  };
}

/** Local "#/components/..." refs point into the registered document. */
function rebase(schema: Json): Json {
  return JSON.parse(JSON.stringify(schema).replace(/"#\/components\//g, '"recurly#/components/')) as Json;
}

function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Json)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, dropNulls(v)]),
    );
  }
  return value;
}

function formatErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? e.keyword}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
}

/** "/^[a-z0-9_-]+$/i" → "^[a-zA-Z0-9_-]+$"; Ajv patterns take neither delimiters nor flags. */
function fixPatterns(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(fixPatterns);
  if (!node || typeof node !== 'object') return;
  const obj = node as Json;
  for (const [key, value] of Object.entries(obj)) {
    if (key === 'pattern' && typeof value === 'string') {
      const m = /^\/(.*)\/([a-z]*)$/.exec(value);
      if (!m) continue;
      let body = m[1];
      if (m[2].includes('i')) {
        if (/[a-zA-Z](?![^[]*\])/.test(body.replace(/\\./g, ''))) throw new Error(`cannot make ${value} case-insensitive`);
        body = body.replace(/a-z/g, 'a-zA-Z').replace(/(?<!a-z)A-Z/g, 'A-Za-z');
      }
      obj[key] = body;
    } else {
      fixPatterns(value);
    }
  }
}

const CLOSED = '__closed';

/**
 * Refuses undocumented properties. `unevaluatedProperties` (unlike `additionalProperties`)
 * sees through allOf, but a schema used as an allOf branch must stay open there or the
 * branches would reject each other's properties; wherever such a schema is used on its own
 * (Error as a response, AccountUpdate as a property), a closed copy is referenced instead.
 */
function closeObjects(schemas: Record<string, Json>, paths: unknown): void {
  const branchNames = new Set<string>();
  const collectBranches = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(collectBranches);
    if (!node || typeof node !== 'object') return;
    const obj = node as Json;
    if (Array.isArray(obj.allOf)) {
      for (const b of obj.allOf as Json[]) if (typeof b.$ref === 'string') branchNames.add(b.$ref.split('/').pop()!);
    }
    Object.values(obj).forEach(collectBranches);
  };
  collectBranches(schemas);

  for (const name of branchNames) schemas[name + CLOSED] = JSON.parse(JSON.stringify(schemas[name])) as Json;

  const pointAtClosed = (node: unknown, inAllOf: boolean): void => {
    if (Array.isArray(node)) return node.forEach((n) => pointAtClosed(n, inAllOf));
    if (!node || typeof node !== 'object') return;
    const obj = node as Json;
    if (!inAllOf && typeof obj.$ref === 'string') {
      const name = obj.$ref.split('/').pop()!;
      if (branchNames.has(name)) obj.$ref = `#/components/schemas/${name}${CLOSED}`;
    }
    for (const [key, value] of Object.entries(obj)) pointAtClosed(value, key === 'allOf');
  };
  pointAtClosed(schemas, false);
  pointAtClosed(paths, false);

  const close = (node: unknown, isBranch: boolean): void => {
    if (Array.isArray(node)) return node.forEach((n) => close(n, false));
    if (!node || typeof node !== 'object') return;
    const obj = node as Json;
    const isObjectSchema = obj.properties !== undefined || Array.isArray(obj.allOf);
    if (isObjectSchema && !isBranch && obj.additionalProperties === undefined) obj.unevaluatedProperties = false;
    for (const [key, value] of Object.entries(obj)) {
      if (key === 'allOf' && Array.isArray(value)) value.forEach((b) => close(b, true));
      else if (key === 'properties' && value && typeof value === 'object') Object.values(value as Json).forEach((p) => close(p, false));
      else if (key === 'items') close(value, false);
    }
  };
  for (const [name, schema] of Object.entries(schemas)) close(schema, branchNames.has(name));
}
