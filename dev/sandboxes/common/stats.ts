/**
 * Request counters per route template ("DELETE /api/v2/users/{id}"), so a test can assert
 * which vendor calls Lethe made, and how often, without the sandbox recording any payloads.
 */
export interface StatsSnapshot {
  total: number;
  routes: Record<string, number>;
  statuses: Record<string, Record<string, number>>;
}

export class RequestStats {
  private total = 0;
  private routes = new Map<string, number>();
  private statuses = new Map<string, Map<number, number>>();

  record(routeKey: string, status: number): void {
    this.total += 1;
    this.routes.set(routeKey, (this.routes.get(routeKey) ?? 0) + 1);
    const perStatus = this.statuses.get(routeKey) ?? new Map<number, number>();
    perStatus.set(status, (perStatus.get(status) ?? 0) + 1);
    this.statuses.set(routeKey, perStatus);
  }

  reset(): void {
    this.total = 0;
    this.routes.clear();
    this.statuses.clear();
  }

  snapshot(): StatsSnapshot {
    const statuses: Record<string, Record<string, number>> = {};
    for (const [key, m] of this.statuses) statuses[key] = Object.fromEntries(m);
    return { total: this.total, routes: Object.fromEntries(this.routes), statuses };
  }
}
