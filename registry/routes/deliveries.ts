import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.js';
import type { DeliveryDoc } from '../../core/model.js';
import { eventBody } from '../../core/event.js';
import { enqueueDelivery } from '../../core/queue.js';
import type { RegistryDeps } from '../context.js';
import { cursorOf, listPage, pageParams } from '../pagination.js';
import { type DeliveryFilter, listDeliveries } from '../delivery-list.js';
import { attemptOf, loadWithOutcome, outcomeId } from '../../core/deliveries.js';
import { isDuplicateKey } from '../../core/mongo.js';
import type { Publish } from '../../core/pubacks.js';
import { DeliveriesQuery, IdParam, ListQuery } from '../schemas.js';
import { attemptView, deliveryView } from '../views.js';
import { allow, ownerScope, visible } from '../principal.js';

export function deliveryRoutes(deps: RegistryDeps) {
  const { deliveries, outcomes, attempts, messages, endpoints } = deps.mongo.col;

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

    /**
     * A manual retry of a failed delivery: one more attempt, now. A delivery still on its
     * schedule is refused (409) rather than attempted twice at once, and a succeeded one
     * because a succeeded delivery is never sent again.
     */
    app.post('/deliveries/:id/retry', { schema: { params: IdParam } }, async (req, reply) => {
      allow(req, 'admin', 'subscriber');
      const { delivery: d, outcome } = await loadBoth(req, req.params.id);
      if (d.status === 'pending') {
        throw new ApiError(
          'conflict',
          'This delivery is pending already; it will be attempted at next_attempt_at.',
        );
      }
      if (d.status === 'succeeded') {
        throw new ApiError('conflict', 'This delivery succeeded already; it is never sent again.');
      }
      const endpoint = await endpoints.findOne({ _id: d.endpoint_id });
      if (!endpoint) throw new ApiError('conflict', 'The endpoint of this delivery was deleted.');
      if (endpoint.status !== 'active') {
        throw new ApiError(
          'conflict',
          `The endpoint of this delivery is ${endpoint.status}; enable it first.`,
        );
      }
      const message = await messages.findOne({ _id: d.message_id });
      if (!message)
        throw new ApiError('conflict', 'The message of this delivery is no longer stored.');
      const generation = d.generation + 1;
      const now = new Date();
      // By id alone (answered from the index everywhere). Two retries at once both set
      // the same generation, and JetStream keeps one copy of the job they both queue.
      const res = await deliveries.updateOne(
        { _id: d._id },
        {
          $set: {
            status: 'pending',
            generation,
            attempts: d.attempts,
            max_attempts: d.attempts + 1,
            next_attempt_at: now,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            updated_at: now,
          },
        },
      );
      if (res.matchedCount === 0)
        throw new ApiError('delivery_not_found', `Unknown delivery "${d._id}".`);
      // The old generation's outcome no longer describes the delivery (lists skip it even if
      // this delete is lost); the attempt it kept joins the others first.
      const final = attemptOf(outcome);
      if (final) {
        await attempts.insertOne(final).catch((err) => {
          if (!isDuplicateKey(err)) throw err;
        });
      }
      await outcomes.deleteOne({ _id: outcomeId(d._id, d.generation) });
      const publish: Publish = (s, d, o) => deps.js.publish(s, d, { ...o, timeout: 10_000 });
      await enqueueDelivery(publish, deps.config.namespace, {
        deliveryId: d._id,
        endpointId: d.endpoint_id,
        messageId: d.message_id,
        generation,
        topic: d.topic,
        ownerId: d.owner_id ?? null,
        createdAt: d.created_at,
        body: Buffer.from(eventBody(message.topic, message.created_at, message.data)),
      });
      return reply
        .status(202)
        .send(deliveryView({ ...d, status: 'pending', generation, next_attempt_at: now }));
    });
  };
}
