import type { JsMsg } from 'nats';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { postJson } from '../core/egress.js';
import { H } from '../core/event.js';
import { newId } from '../core/ids.js';
import type { AttemptDoc, DeliveryDoc } from '../core/model.js';
import { signatureHeader } from '../core/signing.js';
import { createBatchLoader } from '../core/batch.js';
import type { DispatcherContext } from './context.js';
import { classify } from './outcome.js';
import { type LiveEndpoint, signingKeys } from './subscriptions.js';

const RESPONSE_BODY_LIMIT = 16 * 1024;
/** A delivery that arrives this close to its due time is attempted rather than delayed again. */
const EARLY_SLACK_MS = 25;
/** When MongoDB cannot take the outcome, the attempt is repeated after this long. */
const STORE_RETRY_MS = 5_000;

/**
 * Stage two: one delivery message → at most one HTTP attempt → one recorded outcome →
 * one JetStream action (ack, nak with delay, or term). The record is written before the
 * action, so a crash repeats an attempt at worst and never loses one.
 */
export function createDeliverer(ctx: DispatcherContext) {
  const loadDelivery = createBatchLoader<string, DeliveryDoc>(async (ids) => {
    const docs = await ctx.mongo.col.deliveries.find({ _id: { $in: ids } }).toArray();
    return new Map(docs.map((d) => [d._id, d]));
  });
  const limiters = new Map<number, RateLimiterMemory>();

  function limiterFor(rate: number): RateLimiterMemory {
    const found = limiters.get(rate);
    if (found) return found;
    const made = new RateLimiterMemory({ points: rate, duration: 1 });
    limiters.set(rate, made);
    return made;
  }

  async function finish(d: DeliveryDoc, set: Partial<DeliveryDoc>, attempt: AttemptDoc | null) {
    await ctx.recorder.record(
      attempt,
      d._id,
      d.generation,
      { ...set, updated_at: new Date() },
      attempt ? { attempts: 1 } : undefined,
    );
  }

  async function handle(m: JsMsg): Promise<void> {
    const id = m.headers?.get(H.delivery) ?? '';
    const generation = Number(m.headers?.get(H.generation) ?? '0');
    const d = id ? await loadDelivery(id) : undefined;
    // Gone from the store, done already, or superseded by a manual retry: nothing to send.
    if (d?.status !== 'pending' || d.generation !== generation) {
      m.term();
      return;
    }

    const endpoint = await ctx.subscriptions.get(d.endpoint_id);
    if (endpoint?.status !== 'active') {
      const why = !endpoint ? 'endpoint deleted' : `endpoint ${endpoint.status}`;
      await finish(d, { status: 'failed', next_attempt_at: null, last_error: why }, null);
      ctx.metrics.outcomes.inc({ outcome: 'abandoned' });
      m.term();
      return;
    }

    const due = d.next_attempt_at ? d.next_attempt_at.getTime() - Date.now() : 0;
    if (due > EARLY_SLACK_MS) {
      m.nak(due);
      return;
    }

    if (endpoint.rateLimit !== null) {
      try {
        await limiterFor(endpoint.rateLimit).consume(endpoint.id, 1);
      } catch (res) {
        if (res instanceof RateLimiterRes) {
          m.nak(Math.max(res.msBeforeNext, 10));
          return;
        }
        throw res;
      }
    }

    await attempt(d, m, endpoint);
  }

  async function attempt(d: DeliveryDoc, m: JsMsg, endpoint: LiveEndpoint): Promise<void> {
    const ts = Math.floor(Date.now() / 1000);
    const body = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
    const heartbeat = setInterval(() => m.working(), Math.max(1000, ctx.ackWaitMs / 3));
    let res: Awaited<ReturnType<typeof postJson>>;
    try {
      res = await postJson(
        ctx.agent,
        endpoint.url,
        {
          'webhook-id': d.message_id,
          'webhook-timestamp': String(ts),
          'webhook-signature': signatureHeader(signingKeys(endpoint), d.message_id, ts, body),
        },
        body,
        { timeoutMs: ctx.config.deliveryTimeout, maxResponseBytes: RESPONSE_BODY_LIMIT },
      );
    } finally {
      clearInterval(heartbeat);
    }
    if (ctx.released.has(m)) return; // shutting down: another dispatcher owns it now
    ctx.metrics.attemptSeconds.observe(res.durationMs / 1000);

    const attempts = d.attempts + 1;
    const outcome = classify({
      statusCode: res.statusCode,
      retryAfter: res.headers['retry-after'],
      attempts,
      maxAttempts: d.max_attempts,
      schedule: ctx.config.retrySchedule,
    });
    const now = new Date();
    const record: AttemptDoc = {
      _id: newId('att'),
      delivery_id: d._id,
      message_id: d.message_id,
      endpoint_id: d.endpoint_id,
      status_code: res.statusCode,
      error: res.error ?? (outcome.kind === 'succeeded' ? null : `HTTP ${res.statusCode}`),
      duration_ms: res.durationMs,
      response_body: res.body,
      created_at: now,
    };
    const common = { last_status_code: res.statusCode, last_error: record.error };

    try {
      switch (outcome.kind) {
        case 'succeeded':
          await finish(d, { ...common, status: 'succeeded', next_attempt_at: null }, record);
          break;
        case 'failed':
          await finish(d, { ...common, status: 'failed', next_attempt_at: null }, record);
          break;
        case 'gone':
          await finish(d, { ...common, status: 'failed', next_attempt_at: null }, record);
          await disableEndpoint(endpoint.id, 'the endpoint answered 410 Gone');
          break;
        case 'retry':
          await finish(
            d,
            { ...common, next_attempt_at: new Date(now.getTime() + outcome.delayMs) },
            record,
          );
          break;
      }
    } catch (err) {
      ctx.log.warn({ err, delivery_id: d._id }, 'could not record an attempt; it will be repeated');
      m.nak(STORE_RETRY_MS);
      return;
    }
    ctx.metrics.outcomes.inc({ outcome: outcome.kind });
    if (outcome.kind === 'retry') m.nak(outcome.delayMs);
    else if (outcome.kind === 'succeeded') m.ack();
    else m.term();
  }

  async function disableEndpoint(id: string, reason: string): Promise<void> {
    ctx.subscriptions.markDisabled(id);
    await ctx.mongo.col.endpoints.updateOne(
      { _id: id },
      { $set: { status: 'disabled', disabled_reason: reason, updated_at: new Date() } },
    );
    ctx.nc.publish(
      ctx.names.changesSubject,
      JSON.stringify({ kind: 'endpoint', op: 'upsert', id }),
    );
    ctx.log.warn({ endpoint_id: id, reason }, 'endpoint disabled');
  }

  return { handle };
}
