import type { JsMsg } from 'nats';
import { H, parseEventBody } from '../core/event.js';
import { deliveryId } from '../core/ids.js';
import type { DeliveryDoc, MessageDoc } from '../core/model.js';
import { isDuplicateKey } from '../core/mongo.js';
import { enqueueDelivery } from '../core/queue.js';
import type { DispatcherContext } from './context.js';

/** How many delivery publishes may wait for their PubAck at once, per event. */
const PUBLISH_WINDOW = 512;
const INSERT_CHUNK = 1000;

/**
 * Stage one: one event becomes one delivery per subscribed endpoint. Records first, then
 * queue messages, then the event's ack: a crash anywhere repeats the stage, and the
 * derived delivery ids make the repeat store and queue nothing twice.
 */
export async function fanOut(ctx: DispatcherContext, m: JsMsg): Promise<void> {
  const topic = m.subject.slice(ctx.names.eventsPrefix.length);
  const messageId = m.headers?.get(H.msgId) || `msg_S${m.seq}`;
  const now = new Date();

  if (m.headers?.get(H.recorded) !== '1') await recordMessage(ctx, m, messageId, topic);

  const endpoints = ctx.subscriptions.forTopic(topic);
  if (endpoints.length === 0) {
    m.ack();
    return;
  }

  const docs: DeliveryDoc[] = endpoints.map((e) => ({
    _id: deliveryId(messageId, e.id),
    message_id: messageId,
    endpoint_id: e.id,
    topic,
    status: 'pending',
    attempts: 0,
    max_attempts: 1 + ctx.config.retrySchedule.length,
    generation: 0,
    next_attempt_at: now,
    last_status_code: null,
    last_error: null,
    created_at: now,
    updated_at: now,
  }));
  for (let i = 0; i < docs.length; i += INSERT_CHUNK) {
    await insertIgnoringDuplicates(ctx, docs.slice(i, i + INSERT_CHUNK));
  }

  const body = m.data;
  const inFlight = new Set<Promise<unknown>>();
  for (const d of docs) {
    const p = enqueueDelivery(ctx.js, ctx.config.namespace, {
      deliveryId: d._id,
      endpointId: d.endpoint_id,
      messageId,
      generation: 0,
      body,
    }).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= PUBLISH_WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  ctx.metrics.fannedOut.inc(docs.length);
  m.ack();
}

async function insertIgnoringDuplicates(
  ctx: DispatcherContext,
  docs: DeliveryDoc[],
): Promise<void> {
  try {
    await ctx.mongo.col.deliveries.insertMany(docs, { ordered: false });
  } catch (err) {
    // A repeated fan-out finds its deliveries stored already; anything else is real.
    const writeErrors = (err as { writeErrors?: unknown[] | unknown }).writeErrors;
    const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
    const allDup = list.length > 0 && list.every((e) => (e as { code?: number }).code === 11000);
    if (!allDup && !isDuplicateKey(err)) throw err;
  }
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
