import type { FastifyInstance } from 'fastify';
import { metricNames, renderMetrics } from '../../core/metrics.js';
import type { RegistryDeps } from '../context.js';
import type { RegistryMetrics } from '../metrics.js';

export function healthRoutes(deps: RegistryDeps, metrics: RegistryMetrics) {
  return async (app: FastifyInstance) => {
    app.get('/healthz', async () => ({ status: 'ok' }));

    app.get('/readyz', async (_req, reply) => {
      const checks: Record<string, string> = {};
      try {
        await deps.mongo.db.command({ ping: 1 }, { timeoutMS: 2000 });
        checks.mongodb = 'ok';
      } catch (err) {
        checks.mongodb = `error: ${(err as Error).message}`;
      }
      checks.nats = deps.nc.isClosed() ? 'closed' : 'ok';
      const ready = Object.values(checks).every((v) => v === 'ok');
      return reply
        .status(ready ? 200 : 503)
        .send({ status: ready ? 'ready' : 'not_ready', checks });
    });

    app.get('/metrics', async (req, reply) => {
      const text = await renderMetrics(metrics.registry, metricNames(req.url));
      return reply.header('content-type', metrics.registry.contentType).send(text);
    });
  };
}
