/**
 * Route templates like "/api/v2/users/{id}". The template doubles as the stats key, so counts
 * never carry ids or emails from the actual path.
 */
export interface Route<H> {
  method: string;
  pattern: string;
  handler: H;
}

export interface RouteMatch<H> {
  route: Route<H>;
  params: Record<string, string>;
}

export function routeKey(route: { method: string; pattern: string }): string {
  return `${route.method} ${route.pattern}`;
}

export function matchRoute<H>(routes: Route<H>[], method: string, path: string): RouteMatch<H> | undefined {
  const segments = path.split('/');
  for (const route of routes) {
    if (route.method !== method) continue;
    const params = matchPattern(route.pattern, segments);
    if (params) return { route, params };
  }
  return undefined;
}

function matchPattern(pattern: string, segments: string[]): Record<string, string> | undefined {
  const parts = pattern.split('/');
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    const m = /^\{(\w+)\}$/.exec(part);
    if (m) {
      if (segments[i] === '') return undefined;
      try {
        params[m[1]] = decodeURIComponent(segments[i]);
      } catch {
        return undefined;
      }
    } else if (part !== segments[i]) {
      return undefined;
    }
  }
  return params;
}
