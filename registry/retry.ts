// Retrying one failed delivery: the single home of what a manual retry does, for the
// route and for bulk retry jobs.
import { attemptOf, outcomeId } from '../core/deliveries.js';
import { ApiError } from '../core/errors.js';
import { eventBody } from '../core/event.js';
import type { DeliveryDoc, OutcomeDoc } from '../core/model.js';
import { isDuplicateKey } from '../core/mongo.js';
import type { Publish } from '../core/pubacks.js';
import { enqueueDelivery } from '../core/queue.js';
import type { RegistryDeps } from './context.js';

/**
 * A manual retry of a failed delivery: one more attempt, now. The one place that does it,
 * for `POST /v1/deliveries/{id}/retry` and for each delivery of a bulk retry job
 * (registry/jobs.ts). A delivery still on its schedule is refused (409) rather than
 * attempted twice at once, and a succeeded one because a succeeded delivery is never sent
 * again. Resolves with the delivery as it now stands (pending, in a new generation).
 */
export async function retryDelivery(
  deps: RegistryDeps,
  d: DeliveryDoc,
  outcome: OutcomeDoc | null,
): Promise<DeliveryDoc> {
  const { deliveries, outcomes, attempts, messages, endpoints, failed } = deps.mongo.col;
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
  if (!message) throw new ApiError('conflict', 'The message of this delivery is no longer stored.');
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
  // No longer failed. Should this delete be lost, a bulk retry finds the delivery pending,
  // counts it as not retried, and removes the entry then.
  await failed.deleteOne({ _id: d._id });
  const publish: Publish = (s, body, o) => deps.js.publish(s, body, { ...o, timeout: 10_000 });
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
  return { ...d, status: 'pending', generation, next_attempt_at: now };
}
