import type { Registry } from 'prom-client';

/**
 * The Prometheus text of `registry`, or of only the metrics named in `names` (the `name`
 * query parameter of /metrics, repeatable). A scrape of everything asks JetStream for the
 * backlog gauges; asking for a few counters does not, which is what a tool polling for one
 * value many times a second (the bench) should do. Unknown names are left out.
 */
export async function renderMetrics(registry: Registry, names: readonly string[]): Promise<string> {
  if (names.length === 0) return registry.metrics();
  const parts: string[] = [];
  for (const name of new Set(names)) {
    if (registry.getSingleMetric(name)) parts.push(await registry.getSingleMetricAsString(name));
  }
  return parts.length > 0 ? `${parts.join('\n')}\n` : '';
}

/** The `name` query parameters of a request URL. */
export function metricNames(url: string | undefined): string[] {
  return new URL(url ?? '/', 'http://localhost').searchParams.getAll('name');
}
