import type { JsMsg } from 'nats';
import { createResultBatcher } from '../core/batch.js';
import { newDelivery } from '../core/deliveries.js';
import type { Semaphore } from '../core/lifecycle.js';
import { H, isSystemTopic, parseEventBody } from '../core/event.js';
import { deliveryId } from '../core/ids.js';
import type { MessageDoc, StoredDelivery } from '../core/model.js';
import { duplicateKeyIndexes, isDuplicateKey } from '../core/mongo.js';
import { enqueueDelivery, jobOf } from '../core/queue.js';
import type { DispatcherContext, Tail } from './context.js';
import type { LiveEndpoint } from './subscriptions.js';

/** See Deliverer.direct. */
export type Direct = (
  event: JsMsg,
  d: StoredDelivery,
  endpoint: LiveEndpoint,
) => Promise<void> | null;

/** How many delivery publishes may wait for their PubAck at once, per event. */
const PUBLISH_WINDOW = 2048;
const INSERT_CHUNK = 1000;

/**
 * Stage one: one event becomes one delivery per subscribed endpoint. Records first, then
 * first attempts or queue messages, then the event's ack: a crash anywhere repeats the
 * stage, and the derived delivery ids make the repeat store and queue nothing twice.
 */
export async function fanOut(
  ctx: DispatcherContext,
  m: JsMsg,
  direct: Direct,
): Promise<Tail | undefined> {
  const topic = m.subject.slice(ctx.names.eventsPrefix.length);
  const messageId = m.headers?.get(H.message) || m.headers?.get(H.msgId) || `msg_S${m.seq}`;
  const now = new Date();

  if (m.headers?.get(H.recorded) !== '1') await recordMessage(ctx, m, messageId, topic);

  // An event published after a subscription change is fanned out with that change applied.
  const changesSeq = Number(m.headers?.get(H.changesSeq) ?? 0);
  if (changesSeq > 0) await ctx.subscriptions.caughtUp(changesSeq);
  const endpoints = audienceOf(m, topic, ctx.subscriptions.forTopic(topic));
  if (endpoints.length === 0) {
    m.ack();
    return undefined;
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
  // A delivery stored already was attempted or queued by an earlier fan-out of this event,
  // unless that fan-out died before the event's ack: then JetStream redelivers the event,
  // and everything is queued again, each job marked as possibly attempted so that the
  // dispatcher taking it reads the stored state (and finds it ended, or due later);
  // JetStream drops the copies it has seen. A first delivery of a duplicate event (a
  // sidecar re-reading lines beyond the duplicate window) handles only what is new, so no
  // delivery is ever handled twice.
  //
  // Every delivery is stored before the first is attempted or queued, even in a fan-out to
  // thousands: the attempts' records would otherwise compete with the rest of the fan-out
  // for the database (10,000 deliveries were stored in 2.2 s queued a thousand at a time,
  // 1.3 s stored first; docs/benchmarks.md).
  const body = m.data;
  const stored = await Promise.all(docs.map((d) => ctx.storeDelivery(d)));
  const fresh = stored.filter(Boolean).length;
  ctx.metrics.stored.inc(fresh);
  // A first fan-out attempts what it can at once (see Deliverer.direct) and queues the
  // rest; a repeated one queues everything, marked as possibly attempted already.
  const again = m.info.redelivered;
  const attempts: Promise<void>[] = [];
  const inFlight = new Set<Promise<unknown>>();
  try {
    for (const [k, d] of docs.entries()) {
      if (!stored[k] && !again) continue;
      const endpoint = endpoints[k];
      const started = again || !endpoint ? null : direct(m, d, endpoint);
      if (started) {
        attempts.push(started);
        continue;
      }
      const p = enqueueDelivery(ctx.publish, ctx.config.namespace, jobOf(d, body, again)).finally(
        () => inFlight.delete(p),
      );
      inFlight.add(p);
      if (inFlight.size >= PUBLISH_WINDOW) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } catch (err) {
    // The event goes back to JetStream: not before the attempts under way have ended.
    await Promise.allSettled(attempts);
    throw err;
  }
  ctx.metrics.fannedOut.inc(fresh);
  if (attempts.length === 0) {
    m.ack();
    return undefined;
  }
  // The event's slot in the fan-out loop is free now; its ack waits for its attempts, and
  // it goes back to JetStream if one could not be recorded (once all have ended).
  return {
    settled: Promise.allSettled(attempts).then((results) => {
      for (const r of results) if (r.status === 'rejected') throw r.reason;
      if (!ctx.released.has(m)) m.ack();
    }),
  };
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

/**
 * Who may receive the event: every subscribed endpoint, but for a system event only the
 * endpoints of the owner it is about and those without an owner. A system event that
 * names no owner reaches only the latter: a tenant never learns of another's objects.
 */
function audienceOf(
  m: JsMsg,
  topic: string,
  endpoints: readonly LiveEndpoint[],
): readonly LiveEndpoint[] {
  if (!isSystemTopic(topic)) return endpoints;
  const owner = m.headers?.get(H.audience) || null;
  return endpoints.filter((e) => e.ownerId === null || e.ownerId === owner);
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
