// Route: GET /v1/stats.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../core/errors.js';
import type { RegistryDeps } from '../context.js';
import { ownerScope, visible } from '../principal.js';
import { StatsQuery, timeRange } from '../schemas.js';
import { type StatsScope, type Stats, statsWindow } from '../stats.js';

/**
 * `GET /v1/stats`: attempts per bucket of time, backlog, and the endpoints failing most
 * (registry/stats.ts). The admin and publishers see everyone's or one endpoint's; a
 * subscriber its own endpoints' (another's endpoint_id is 404, as everywhere).
 */
export function statsRoutes(deps: RegistryDeps, stats: Stats) {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();
    app.get('/stats', { schema: { querystring: StatsQuery } }, async (req) => {
      const q = req.query;
      const range = timeRange(q) ?? {};
      const window = statsWindow({ from: range.from, to: range.to, bucket: q.bucket });
      const scope: StatsScope = {};
      const owner = ownerScope(req);
      if (owner !== null) scope.ownerId = owner;
      if (q.endpoint_id !== undefined) {
        const e = await deps.mongo.col.endpoints.findOne(
          { _id: q.endpoint_id },
          { projection: { owner_id: 1 } },
        );
        if (!e || !visible(req, e.owner_id))
          throw new ApiError('endpoint_not_found', `Unknown endpoint "${q.endpoint_id}".`);
        scope.endpointId = q.endpoint_id;
      }
      return stats.query(scope, window);
    });
  };
}
