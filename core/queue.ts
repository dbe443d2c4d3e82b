import { headers as natsHeaders } from 'nats';
import { H } from './event.js';
import { natsNames } from './nats.js';
import type { StoredDelivery } from './model.js';
import type { Ack, Publish } from './pubacks.js';

export interface DeliveryJob {
  deliveryId: string;
  endpointId: string;
  messageId: string;
  generation: number;
  topic: string;
  ownerId: string | null;
  /** When the delivery was created. */
  createdAt: Date;
  /** The exact event body to POST. */
  body: Uint8Array;
  /**
   * The delivery may have been attempted already (a retry, or an event fanned out again
   * after a crash): the job says so by leaving out its creation time, and the dispatcher
   * that takes it reads the stored delivery instead of assuming its first state.
   */
  attempted?: boolean;
}

/** The job that queues a stored delivery (fields fan-out leaves out at their defaults). */
export function jobOf(d: StoredDelivery, body: Uint8Array, attempted: boolean): DeliveryJob {
  return {
    deliveryId: d._id,
    endpointId: d.endpoint_id,
    messageId: d.message_id,
    generation: d.generation ?? 0,
    topic: d.topic,
    ownerId: d.owner_id ?? null,
    createdAt: d.created_at,
    body,
    attempted,
  };
}

/**
 * Puts one delivery on the deliveries stream. The message id includes the generation, so
 * a fan-out that runs twice stores one copy, and a manual retry (a new generation) another.
 */
export function enqueueDelivery(
  publish: Publish,
  namespace: string,
  job: DeliveryJob,
): Promise<Ack> {
  const h = natsHeaders();
  h.set(H.delivery, job.deliveryId);
  h.set(H.endpoint, job.endpointId);
  h.set(H.message, job.messageId);
  h.set(H.generation, String(job.generation));
  h.set(H.topic, job.topic);
  if (job.ownerId) h.set(H.owner, job.ownerId);
  if (!job.attempted) h.set(H.created, String(job.createdAt.getTime()));
  return publish(natsNames(namespace).deliveriesSubject(job.endpointId), job.body, {
    msgID: `${job.deliveryId}.g${job.generation}`,
    headers: h,
  });
}
