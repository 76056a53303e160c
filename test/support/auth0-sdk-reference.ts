/**
 * Auth0's Management API as the vendor's own SDK defines it: the `auth0` package (v5+, generated
 * by Fern from Auth0's API definition) ships no OpenAPI document, but each operation's generated
 * client holds the same facts in code:
 * - `dist/cjs/management/api/resources/<resource>/client/Client.js`: the HTTP method and path
 *   template (the `handleNonStatusCodeError(…, "GET", "/users/{id}")` call closing every
 *   operation), the query parameters it may send (`_queryParams`), whether a success has a body
 *   (`data: _response.body` or `data: undefined`), and the error statuses the API documents
 *   for it (one `case NNN:` each, mapped to a typed error);
 * - `Client.d.ts` beside it, with `api/types/types.d.ts` and `api/requests/requests.d.ts`: the
 *   request and response types, read here with the TypeScript compiler.
 * This module reads those files (nothing is copied into the test) and checks JSON values
 * against the types.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export const AUTH0_SDK_ROOT = path.dirname(require.resolve('auth0/package.json'));
const MANAGEMENT = path.join(AUTH0_SDK_ROOT, 'dist', 'cjs', 'management');

export interface SdkOperation {
  /** e.g. `users.get`, `users.sessions.delete`, `userGrants.deleteByUserId`. */
  name: string;
  /** The generated client file, relative to the package (cited in failures). */
  file: string;
  method: string;
  /** The path template under /api/v2, e.g. `/users/{id}`. */
  path: string;
  queryParams: string[];
  /** Error statuses the SDK maps to typed errors: the ones the API documents for this operation. */
  errorStatuses: number[];
  /** Whether a success carries a body the SDK returns. */
  successHasBody: boolean;
  /** The success body's type (for a list, the page's response type); undefined when none. */
  responseType?: ts.Type;
  /** The JSON body's type, when the operation sends one. */
  requestBodyType?: ts.Type;
  /** The request parameters' type (query parameters and their types). */
  requestParamsType?: ts.Type;
  /** Whether `path` (a concrete request path, under /api/v2) is this operation's template. */
  matches(method: string, concretePath: string): boolean;
}

let program: ts.Program | undefined;
function checker(): { program: ts.Program; checker: ts.TypeChecker } {
  program ??= ts.createProgram({
    rootNames: [path.join(MANAGEMENT, 'index.d.ts')],
    options: { noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, strict: true },
  });
  return { program, checker: program.getTypeChecker() };
}

/** `users` → api/resources/users; `users.sessions` → api/resources/users/resources/sessions. */
function resourceDir(resource: string): string {
  return path.join(MANAGEMENT, 'api', 'resources', ...resource.split('.').flatMap((r, i) => (i === 0 ? [r] : ['resources', r])), 'client');
}

/** Reads one operation of the SDK's generated Management API client, e.g. ('users', 'get'). */
export function sdkOperation(resource: string, sdkMethod: string): SdkOperation {
  const dir = resourceDir(resource);
  const jsFile = path.join(dir, 'Client.js');
  const js = fs.readFileSync(jsFile, 'utf8');
  const rel = path.relative(AUTH0_SDK_ROOT, jsFile);
  // Each operation is `name(…) { … __name(…) }` then `__name(…) { … }`; list operations inline it.
  let start = js.indexOf(`\n    __${sdkMethod}(`);
  if (start < 0) start = js.indexOf(`\n    ${sdkMethod}(`);
  if (start < 0) throw new Error(`${rel}: no operation ${sdkMethod}`);
  const closing = /handleNonStatusCodeError\)\(_response\.error, _response\.rawResponse, "([A-Z]+)", "([^"]+)"\)/g;
  closing.lastIndex = start;
  const end = closing.exec(js);
  if (!end) throw new Error(`${rel}: ${sdkMethod} has no closing handleNonStatusCodeError call to read its method and path from`);
  const body = js.slice(start, end.index);
  const query = /const _queryParams = \{([\s\S]*?)\};/.exec(body);
  const queryParams = query
    ? query[1]
        .split('\n')
        .map((line) => /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*[:,]/.exec(line)?.[1])
        .filter((k): k is string => k !== undefined)
    : [];
  const errorStatuses = [...body.matchAll(/case (\d{3}):/g)].map((m) => Number(m[1]));
  const successHasBody = /if \(_response\.ok\) \{\s*return \{\s*data: _response\.body/.test(body) || /data: dataWithRawResponse\.data|response: dataWithRawResponse\.data/.test(body);
  const template = end[2];
  const pattern = new RegExp(`^/api/v2${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);

  const types = signatureTypes(path.join(dir, 'Client.d.ts'), sdkMethod);
  return {
    name: `${resource}.${sdkMethod}`,
    file: rel,
    method: end[1],
    path: template,
    queryParams,
    errorStatuses,
    successHasBody,
    ...types,
    matches: (method, concretePath) => method === end[1] && pattern.test(concretePath),
  };
}

function signatureTypes(dtsFile: string, sdkMethod: string): Pick<SdkOperation, 'responseType' | 'requestBodyType' | 'requestParamsType'> {
  const { program, checker: tc } = checker();
  const source = program.getSourceFile(dtsFile);
  if (!source) throw new Error(`${dtsFile} is not part of the SDK's type graph`);
  let decl: ts.MethodDeclaration | undefined;
  source.forEachChild(function visit(node) {
    if (ts.isClassDeclaration(node)) {
      for (const m of node.members) if (ts.isMethodDeclaration(m) && m.name.getText(source) === sdkMethod) decl = m;
    }
  });
  if (!decl) throw new Error(`${dtsFile}: no method ${sdkMethod}`);
  const sig = tc.getSignatureFromDeclaration(decl)!;
  // HttpResponsePromise<T>, or Promise<Page<Item, Response>> for paginated lists.
  let ret = tc.getReturnTypeOfSignature(sig);
  const args = (t: ts.Type) => tc.getTypeArguments(t as ts.TypeReference) ?? [];
  const typeArgs = (t: ts.Type): readonly ts.Type[] => t.aliasTypeArguments ?? (isReference(t) ? args(t) : []);
  if (ret.symbol?.name === 'Promise') ret = typeArgs(ret)[0];
  let response: ts.Type | undefined;
  if (ret.symbol?.name === 'Page') response = typeArgs(ret)[1];
  else response = typeArgs(ret)[0];
  if (response && response.flags & ts.TypeFlags.Void) response = undefined;
  const request = decl.parameters.find((p) => p.name.getText(source) === 'request');
  const requestType = request ? tc.getNonNullableType(tc.getTypeAtLocation(request)) : undefined;
  const isBody = request ? /RequestContent\b/.test(request.type?.getText(source) ?? '') : false;
  return { responseType: response, requestBodyType: isBody ? requestType : undefined, requestParamsType: isBody ? undefined : requestType };
}

function isReference(t: ts.Type): t is ts.TypeReference {
  return (t.flags & ts.TypeFlags.Object) !== 0 && ((t as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference) !== 0;
}

/** Differences between a JSON value and an SDK type: unknown properties, wrong types, missing required ones. */
export function validate(type: ts.Type, value: unknown, where = '$'): string[] {
  const { checker: tc } = checker();
  const name = () => tc.typeToString(type);
  const f = type.flags;
  if (f & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return [];
  if (type.isUnion()) {
    if (value === undefined) return type.types.some((t) => t.flags & ts.TypeFlags.Undefined) ? [] : [`${where}: missing (${name()})`];
    const each = type.types.filter((t) => !(t.flags & ts.TypeFlags.Undefined)).map((t) => validate(t, value, where));
    if (each.some((e) => e.length === 0)) return [];
    // Report the closest member: the one with the fewest differences.
    return each.sort((a, b) => a.length - b.length)[0] ?? [`${where}: ${JSON.stringify(value)} is not ${name()}`];
  }
  if (f & ts.TypeFlags.Null) return value === null ? [] : [`${where}: expected null`];
  if (value === null) return [`${where}: null where ${name()} is expected`];
  if (type.isStringLiteral()) return value === type.value ? [] : [`${where}: ${JSON.stringify(value)} is not ${name()}`];
  if (type.isNumberLiteral()) return value === type.value ? [] : [`${where}: ${JSON.stringify(value)} is not ${name()}`];
  if (f & ts.TypeFlags.BooleanLiteral) return value === (name() === 'true') ? [] : [`${where}: ${JSON.stringify(value)} is not ${name()}`];
  if (f & ts.TypeFlags.StringLike) return typeof value === 'string' ? [] : [`${where}: ${JSON.stringify(value)} is not a string`];
  if (f & ts.TypeFlags.NumberLike) return typeof value === 'number' ? [] : [`${where}: ${JSON.stringify(value)} is not a number`];
  if (f & ts.TypeFlags.BooleanLike) return typeof value === 'boolean' ? [] : [`${where}: ${JSON.stringify(value)} is not a boolean`];
  if (tc.isArrayType(type) || tc.isTupleType(type)) {
    if (!Array.isArray(value)) return [`${where}: expected an array (${name()})`];
    const element = tc.getTypeArguments(type as ts.TypeReference)[0];
    return value.flatMap((v, i) => validate(element, v, `${where}[${i}]`));
  }
  if (f & ts.TypeFlags.Object || type.isIntersection()) {
    if (typeof value !== 'object' || Array.isArray(value)) return [`${where}: expected an object (${name()})`];
    const o = value as Record<string, unknown>;
    const errors: string[] = [];
    const index = tc.getIndexInfoOfType(type, ts.IndexKind.String);
    for (const [k, v] of Object.entries(o)) {
      const prop = type.getProperty(k);
      if (prop) errors.push(...validate(tc.getTypeOfSymbol(prop), v, `${where}.${k}`));
      else if (index) errors.push(...validate(index.type, v, `${where}.${k}`));
      else errors.push(`${where}.${k}: not a property of ${name()}`);
    }
    for (const prop of type.getProperties()) {
      if (!(prop.flags & ts.SymbolFlags.Optional) && !(prop.getName() in o)) errors.push(`${where}.${prop.getName()}: required by ${name()}, missing`);
    }
    return errors;
  }
  return [`${where}: cannot check against ${name()}`];
}

/** Whether a query string value is acceptable for a parameter of this type (numbers and booleans arrive as text). */
export function validateQueryValue(type: ts.Type, raw: string, where: string): string[] {
  const { checker: tc } = checker();
  const options = type.isUnion() ? type.types : [type];
  const ok = options.some((t) => {
    if (t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)) return false;
    if (t.isStringLiteral()) return raw === t.value;
    if (t.isNumberLiteral()) return Number(raw) === t.value;
    if (t.flags & ts.TypeFlags.BooleanLike) return raw === 'true' || raw === 'false';
    if (t.flags & ts.TypeFlags.NumberLike) return raw.trim() !== '' && Number.isFinite(Number(raw));
    if (t.flags & ts.TypeFlags.StringLike) return true;
    return t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown) ? true : false;
  });
  return ok ? [] : [`${where}: ${JSON.stringify(raw)} is not ${tc.typeToString(type)}`];
}

/** The type of one property of a request parameters type. */
export function propertyType(type: ts.Type, name: string): ts.Type | undefined {
  const prop = type.getProperty(name);
  return prop ? checker().checker.getTypeOfSymbol(prop) : undefined;
}

/** The names of a type's properties. */
export function propertyNames(type: ts.Type): string[] {
  return type.getProperties().map((p) => p.getName());
}

/** A named type of the SDK's `Management` namespace, e.g. `CreateUserRequestContent`. */
export function sdkType(name: string): ts.Type {
  const { program, checker: tc } = checker();
  for (const file of ['api/types/types.d.ts', 'api/requests/requests.d.ts']) {
    const source = program.getSourceFile(path.join(MANAGEMENT, file));
    const sym = source && tc.getSymbolAtLocation(source)?.exports?.get(name as ts.__String);
    if (sym) return tc.getDeclaredTypeOfSymbol(sym);
  }
  throw new Error(`the auth0 SDK declares no type ${name}`);
}
