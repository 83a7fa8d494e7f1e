import type { HttpRequest } from './HttpClient.js';

/**
 * Requests sent per route ("POST /v1/meta getattr", "PUT /v1/blocks/:id"...), every attempt
 * counted. Shown in the control folder's stats so a benchmark can tell what a workload costs.
 */
export class RequestCounter {
  private readonly counts = new Map<string, number>();

  add(req: HttpRequest): void {
    const k = routeLabel(req);
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }

  /** Counts by route, sorted by route. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}

/** Method, path without query and block id, and the meta op. */
export function routeLabel(req: HttpRequest): string {
  const op = (req.json as { op?: unknown } | undefined)?.op;
  const path = req.path.split('?')[0]!.replace(/\/[0-9a-f]{64}$/, '/:id');
  return `${req.method} ${path}${typeof op === 'string' ? ` ${op}` : ''}`;
}
