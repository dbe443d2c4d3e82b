import type { JsMsg } from 'nats';
import { createResultBatcher } from '../core/batch.js';
import { newDelivery } from '../core/deliveries.js';
import type { Semaphore } from '../core/lifecycle.js';
import { H, parseEventBody } from '../core/event.js';
import { deliveryId } from '../core/ids.js';
import type { MessageDoc, StoredDelivery } from '../core/model.js';
import { duplicateKeyIndexes, isDuplicateKey } from '../core/mongo.js';
import { enqueueDelivery } from '../core/queue.js';
import type { DispatcherContext } from './context.js';

/** How many delivery publishes may wait for their PubAck at once, per event. */
const PUBLISH_WINDOW = 2048;
const INSERT_CHUNK = 1000;

/**
 * Stage one: one event becomes one delivery per subscribed endpoint. Records first, then
 * queue messages, then the event's ack: a crash anywhere repeats the stage, and the
 * derived delivery ids make the repeat store and queue nothing twice.
 */
export async function fanOut(ctx: DispatcherContext, m: JsMsg): Promise<void> {
  const topic = m.subject.slice(ctx.names.eventsPrefix.length);
  const messageId = m.headers?.get(H.message) || m.headers?.get(H.msgId) || `msg_S${m.seq}`;
  const now = new Date();

  if (m.headers?.get(H.recorded) !== '1') await recordMessage(ctx, m, messageId, topic);

  // An event published after a subscription change is fanned out with that change applied.
  const changesSeq = Number(m.headers?.get(H.changesSeq) ?? 0);
  if (changesSeq > 0) await ctx.subscriptions.caughtUp(changesSeq);
  const endpoints = ctx.subscriptions.forTopic(topic);
  if (endpoints.length === 0) {
    m.ack();
    return;
  }

  const docs = endpoints.map((e) =>
    newDelivery({
      id: deliveryId(messageId, e.id),
      messageId,
      endpointId: e.id,
      ownerId: e.ownerId,
      topic,
      maxAttempts: 1 + ctx.config.retrySchedule.length,
      createdAt: now,
    }),
  );
  // A delivery stored already was queued by an earlier fan-out of this event, unless that
  // fan-out died between storing and queueing: then JetStream redelivers the event, and
  // everything is queued again (JetStream drops the copies it has seen). A first delivery
  // of a duplicate event (a sidecar re-reading lines beyond the duplicate window) queues
  // only what is new, so no delivery is ever queued twice.
  //
  // Every delivery is stored before the first is queued, even in a fan-out to thousands:
  // once queued, deliveries are attempted at once, and their attempts' records would
  // compete with the rest of the fan-out for the database (10,000 deliveries were stored
  // in 2.2 s queued a thousand at a time, 1.3 s stored first; docs/benchmarks.md).
  const body = m.data;
  const stored = await Promise.all(docs.map((d) => ctx.storeDelivery(d)));
  const fresh = stored.filter(Boolean).length;
  ctx.metrics.stored.inc(fresh);
  const inFlight = new Set<Promise<unknown>>();
  for (const [k, d] of docs.entries()) {
    if (!stored[k] && !m.info.redelivered) continue;
    const p = enqueueDelivery(ctx.publish, ctx.config.namespace, {
      deliveryId: d._id,
      endpointId: d.endpoint_id,
      messageId,
      generation: 0,
      topic: d.topic,
      ownerId: d.owner_id ?? null,
      createdAt: d.created_at,
      body,
    }).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= PUBLISH_WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  ctx.metrics.fannedOut.inc(fresh);
  m.ack();
}

/**
 * Stores deliveries of every event being fanned out at once in one insertMany (one
 * statement instead of one per event: on FerretDB each statement costs about a
 * millisecond, whatever it carries). Each resolves true when it is new, false when it was
 * stored already.
 */
export function createDeliveryStore(ctx: Pick<DispatcherContext, 'mongo'>, lane: Semaphore) {
  const batcher = createResultBatcher<StoredDelivery, boolean>(async (docs) => {
    const fresh = docs.map(() => true);
    for (let i = 0; i < docs.length; i += INSERT_CHUNK) {
      const chunk = docs.slice(i, i + INSERT_CHUNK);
      await lane.acquire();
      try {
        await ctx.mongo.col.deliveries.insertMany(chunk, { ordered: false });
      } catch (err) {
        for (const k of duplicateKeyIndexes(err)) fresh[i + k] = false;
      } finally {
        lane.release();
      }
    }
    return fresh;
  }, 5000);
  return (d: StoredDelivery) => batcher.add(d);
}

/** Events that did not come through the registry (the sidecar's) are recorded here. */
async function recordMessage(
  ctx: DispatcherContext,
  m: JsMsg,
  id: string,
  topic: string,
): Promise<void> {
  let data: unknown = null;
  let createdAt = new Date(m.info.timestampNanos / 1_000_000);
  try {
    const ev = parseEventBody(m.data);
    data = ev.data;
    const t = Date.parse(ev.timestamp);
    if (!Number.isNaN(t)) createdAt = new Date(t);
  } catch {
    data = Buffer.from(m.data).toString('utf8');
  }
  const doc: MessageDoc = { _id: id, topic, data, idempotency_key: null, created_at: createdAt };
  try {
    await ctx.mongo.col.messages.insertOne(doc);
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
}
