// Routes: POST /v1/deliveries/retry and GET /v1/jobs/{id}.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../core/errors.js';
import type { RegistryDeps } from '../context.js';
import { type Jobs, jobView, type RetryFilter } from '../jobs.js';
import { allow, ownerScope, visible } from '../principal.js';
import { BulkRetry, IdParam, timeRange } from '../schemas.js';

/**
 * Bulk retry and the jobs that carry it out. Who may: as for retrying one delivery (the
 * admin, and a subscriber over its own deliveries); jobs are read by whoever may read
 * deliveries, a subscriber only its own.
 */
export function jobRoutes(deps: RegistryDeps, jobs: Jobs) {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.post('/deliveries/retry', { schema: { body: BulkRetry } }, async (req, reply) => {
      allow(req, 'admin', 'subscriber');
      const body = req.body;
      const filter: RetryFilter = {};
      const scope = ownerScope(req);
      if (scope !== null) filter.owner_id = scope;
      if (body.endpoint_id !== undefined) {
        const e = await deps.mongo.col.endpoints.findOne({ _id: body.endpoint_id });
        if (!e || !visible(req, e.owner_id))
          throw new ApiError('endpoint_not_found', `Unknown endpoint "${body.endpoint_id}".`);
        filter.endpoint_id = body.endpoint_id;
      }
      if (body.topic !== undefined) filter.topic = body.topic;
      const created = timeRange(body, 'body');
      if (created) filter.created = created;
      const job = await jobs.startRetry(filter);
      return reply.status(202).send(jobView(job));
    });

    app.get('/jobs/:id', { schema: { params: IdParam } }, async (req) => {
      const job = await jobs.get(req.params.id);
      if (!job || !visible(req, job.owner_id))
        throw new ApiError('job_not_found', `Unknown job "${req.params.id}".`);
      return jobView(job);
    });
  };
}
