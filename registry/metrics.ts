import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

export interface RegistryMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  published: Counter<'topic'>;
}

/** A registry of its own per app, so two apps in one process (tests) never collide. */
export function createMetrics(registry: Registry = new Registry()): RegistryMetrics {
  collectDefaultMetrics({ register: registry, prefix: 'hookline_registry_' });
  return {
    registry,
    httpRequests: new Counter({
      name: 'hookline_http_requests_total',
      help: 'HTTP requests answered by the registry',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    published: new Counter({
      name: 'hookline_messages_published_total',
      help: 'Messages accepted through the API',
      labelNames: ['topic'],
      registers: [registry],
    }),
  };
}
