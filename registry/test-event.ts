// Test events: one message, delivered to one endpoint only.
import { newDelivery } from '../core/deliveries.js';
import { ApiError } from '../core/errors.js';
import { eventBody } from '../core/event.js';
import { deliveryId, newId } from '../core/ids.js';
import type { EndpointDoc, MessageDoc, StoredDelivery } from '../core/model.js';
import type { Publish } from '../core/pubacks.js';
import { enqueueDelivery, jobOf } from '../core/queue.js';
import type { RegistryDeps } from './context.js';

/**
 * A test event for one endpoint: a message on one of its topics, recorded like any other,
 * and one delivery of it, to that endpoint only. The message is not published to the
 * events stream, so fan-out never sees it and no other subscriber of the topic gets it;
 * its delivery goes straight onto the deliveries stream, as a manual retry's does, and is
 * attempted, retried and recorded like every delivery.
 */
export async function sendTestEvent(
  deps: RegistryDeps,
  endpoint: EndpointDoc,
  topic: string,
  data: unknown,
): Promise<{ message: MessageDoc; delivery: StoredDelivery }> {
  const { messages, deliveries } = deps.mongo.col;
  const now = new Date();
  const message: MessageDoc = {
    _id: newId('msg'),
    topic,
    data: data ?? null,
    idempotency_key: null,
    created_at: now,
  };
  const delivery = newDelivery({
    id: deliveryId(message._id, endpoint._id),
    messageId: message._id,
    endpointId: endpoint._id,
    ownerId: endpoint.owner_id ?? null,
    topic,
    maxAttempts: 1 + deps.config.retrySchedule.length,
    createdAt: now,
  });
  await messages.insertOne(message);
  await deliveries.insertOne(delivery);
  const publish: Publish = (s, body, o) => deps.js.publish(s, body, { ...o, timeout: 10_000 });
  const body = Buffer.from(eventBody(topic, now, message.data));
  try {
    await enqueueDelivery(publish, deps.config.namespace, jobOf(delivery, body, false));
  } catch (err) {
    deps.log.error({ err, endpoint_id: endpoint._id }, 'could not queue a test event');
    // Not queued: take back what was stored, so nothing is listed that will never be sent.
    await Promise.allSettled([
      messages.deleteOne({ _id: message._id }),
      deliveries.deleteOne({ _id: delivery._id }),
    ]);
    throw new ApiError(
      'publish_failed',
      'The event store did not acknowledge the test event; nothing was sent.',
    );
  }
  return { message, delivery };
}
