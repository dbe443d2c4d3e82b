import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.js';
import type { DeliveryDoc } from '../../core/model.js';
import type { RegistryDeps } from '../context.js';
import { cursorOf, listPage, pageParams } from '../pagination.js';
import { type DeliveryFilter, listDeliveries } from '../delivery-list.js';
import { attemptOf, loadWithOutcome } from '../../core/deliveries.js';
import { retryDelivery } from '../retry.js';
import { DeliveriesQuery, IdParam, ListQuery, timeRange } from '../schemas.js';
import { attemptView, deliveryView } from '../views.js';
import { allow, ownerScope, visible } from '../principal.js';

export function deliveryRoutes(deps: RegistryDeps) {
  const { attempts } = deps.mongo.col;

  /** The delivery and its outcome, if the caller may see it: a subscriber sees only its own. */
  async function loadBoth(req: FastifyRequest, id: string) {
    const found = await loadWithOutcome(deps.mongo.col, id);
    if (!found || !visible(req, found.delivery.owner_id))
      throw new ApiError('delivery_not_found', `Unknown delivery "${id}".`);
    return found;
  }
  const load = async (req: FastifyRequest, id: string): Promise<DeliveryDoc> =>
    (await loadBoth(req, id)).delivery;

  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.get('/deliveries', { schema: { querystring: DeliveriesQuery } }, async (req) => {
      const q = req.query;
      const filter: DeliveryFilter = {};
      if (q.endpoint_id) filter.endpoint_id = q.endpoint_id;
      if (q.message_id) filter.message_id = q.message_id;
      if (q.status) filter.status = q.status;
      if (q.topic) filter.topic = q.topic;
      const created = timeRange(q);
      if (created) filter.created = created;
      const scope = ownerScope(req);
      if (scope !== null) filter.owner_id = scope;
      return listDeliveries(deps.mongo.col, filter, pageParams(q));
    });

    app.get('/deliveries/:id', { schema: { params: IdParam } }, async (req) =>
      deliveryView(await load(req, req.params.id)),
    );

    app.get(
      '/deliveries/:id/attempts',
      { schema: { params: IdParam, querystring: ListQuery } },
      async (req) => {
        const { outcome } = await loadBoth(req, req.params.id);
        const page = pageParams(req.query);
        const filter = { delivery_id: req.params.id };
        // The attempt that ended the delivery is kept in its outcome; it is the newest, so
        // it heads the first page, and later pages (after a cursor) come from attempts alone.
        const final = attemptOf(outcome);
        if (!final || page.after) return listPage(attempts, filter, page, attemptView);
        if (page.limit === 1) {
          const more = (await attempts.countDocuments(filter, { limit: 1 })) > 0;
          return { data: [attemptView(final)], next_cursor: more ? cursorOf(final) : null };
        }
        const rest = await listPage(
          attempts,
          filter,
          { limit: page.limit - 1, after: null },
          attemptView,
        );
        return { data: [attemptView(final), ...rest.data], next_cursor: rest.next_cursor };
      },
    );

    app.post('/deliveries/:id/retry', { schema: { params: IdParam } }, async (req, reply) => {
      allow(req, 'admin', 'subscriber');
      const { delivery, outcome } = await loadBoth(req, req.params.id);
      return reply.status(202).send(deliveryView(await retryDelivery(deps, delivery, outcome)));
    });
  };
}
