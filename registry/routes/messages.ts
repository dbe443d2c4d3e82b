import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../core/errors.js';
import type { RegistryDeps } from '../context.js';
import type { RegistryMetrics } from '../metrics.js';
import { listPage, pageParams } from '../pagination.js';
import { publishMany, publishMessage } from '../publish.js';
import type { Filter } from 'mongodb';
import type { MessageDoc } from '../../core/model.js';
import {
  IdParam,
  ListQuery,
  MessagesQuery,
  PublishBatch,
  PublishMessage,
  timeFilter,
  timeRange,
} from '../schemas.js';
import { messageView } from '../views.js';
import { listDeliveries } from '../delivery-list.js';
import { allow } from '../principal.js';
import { refuseSystemTopic, requireTopics, unknownTopics } from './topics.js';

export function messageRoutes(deps: RegistryDeps, metrics: RegistryMetrics) {
  const { messages } = deps.mongo.col;
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.post('/messages', { schema: { body: PublishMessage } }, async (req, reply) => {
      allow(req, 'admin', 'publisher');
      const header = req.headers['idempotency-key'];
      const headerKey = Array.isArray(header) ? header[0] : header;
      if (headerKey !== undefined && (headerKey.length === 0 || headerKey.length > 256)) {
        throw new ApiError('invalid_request', 'Idempotency-Key must be 1 to 256 characters');
      }
      const bodyKey = req.body.idempotency_key;
      if (headerKey !== undefined && bodyKey !== undefined && headerKey !== bodyKey) {
        throw new ApiError('invalid_request', 'Idempotency-Key header and idempotency_key differ');
      }
      if (!('data' in req.body)) throw new ApiError('invalid_request', 'body: data is required');
      refuseSystemTopic(req.body.topic);
      await requireTopics(deps, [req.body.topic]);
      const { message, repeated } = await publishMessage(deps, {
        topic: req.body.topic,
        data: req.body.data,
        idempotencyKey: headerKey ?? bodyKey ?? null,
      });
      if (!repeated) metrics.published.inc({ topic: message.topic });
      if (repeated) void reply.header('idempotent-replayed', 'true');
      return reply.status(202).send(messageView(message));
    });

    app.post('/messages/batch', { schema: { body: PublishBatch } }, async (req, reply) => {
      allow(req, 'admin', 'publisher');
      const items = req.body.messages;
      for (const [i, m] of items.entries()) refuseSystemTopic(m.topic, `messages[${i}]`);
      const missing = await unknownTopics(
        deps,
        items.map((m) => m.topic),
      );
      const unknown = items.findIndex((m) => missing.has(m.topic));
      if (unknown >= 0) {
        throw new ApiError(
          'topic_not_found',
          `messages[${unknown}]: unknown topic "${items[unknown]?.topic}". Nothing was published.`,
        );
      }
      const results = await publishMany(
        deps,
        items.map((m) => ({
          topic: m.topic,
          data: m.data,
          idempotencyKey: m.idempotency_key ?? null,
        })),
      );
      for (const r of results) if (!r.repeated) metrics.published.inc({ topic: r.message.topic });
      return reply
        .status(202)
        .send({ data: results.map((r) => ({ ...messageView(r.message), repeated: r.repeated })) });
    });

    app.get('/messages', { schema: { querystring: MessagesQuery } }, async (req) => {
      allow(req, 'admin', 'publisher');
      const q = req.query;
      const filter: Filter<MessageDoc> = timeFilter(timeRange(q));
      if (q.topic !== undefined) filter.topic = q.topic;
      if (q.idempotency_key !== undefined) filter.idempotency_key = q.idempotency_key;
      return listPage(messages, filter, pageParams(q), messageView);
    });

    app.get('/messages/:id', { schema: { params: IdParam } }, async (req) => {
      allow(req, 'admin', 'publisher');
      const doc = await messages.findOne({ _id: req.params.id });
      if (!doc) throw new ApiError('message_not_found', `Unknown message "${req.params.id}".`);
      return messageView(doc);
    });

    app.get(
      '/messages/:id/deliveries',
      { schema: { params: IdParam, querystring: ListQuery } },
      async (req) => {
        allow(req, 'admin', 'publisher');
        const exists = await messages.countDocuments({ _id: req.params.id }, { limit: 1 });
        if (!exists) throw new ApiError('message_not_found', `Unknown message "${req.params.id}".`);
        return listDeliveries(deps.mongo.col, { message_id: req.params.id }, pageParams(req.query));
      },
    );
  };
}
