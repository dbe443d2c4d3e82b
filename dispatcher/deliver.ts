import type { JsMsg } from 'nats';
import { createBatchLoader } from '../core/batch.js';
import { loadDelivery, newDelivery, outcomeOf, withDefaults } from '../core/deliveries.js';
import { postJson } from '../core/egress.js';
import { H } from '../core/event.js';
import { Semaphore } from '../core/lifecycle.js';
import { enqueueDelivery, jobOf } from '../core/queue.js';
import { newId } from '../core/ids.js';
import type { AttemptDoc, DeliveryDoc, StoredDelivery } from '../core/model.js';
import { signatureHeader } from '../core/signing.js';
import type { DispatcherContext, Tail } from './context.js';
import { type Admission, EndpointGate } from './gate.js';
import { createEndpointHealth } from './health.js';
import { classify, type Outcome } from './outcome.js';
import { createPacing } from './pacing.js';
import type { Parking } from './parking.js';
import type { RateLimits } from './ratelimit.js';
import type { Next } from './recorder.js';
import { type LiveEndpoint, signingKeys } from './subscriptions.js';

const RESPONSE_BODY_LIMIT = 16 * 1024;
/** A delivery that arrives this close to its due time is attempted rather than delayed again. */
const EARLY_SLACK_MS = 25;
/** When MongoDB cannot take the outcome, the attempt is repeated after this long. */
const STORE_RETRY_MS = 5_000;

type AttemptResult = 'success' | 'failure' | 'none';
type Leave = (result: AttemptResult) => void;
/** A delivery to attempt now: its record, and its endpoint as the cache has it. */
type Ready = { d: DeliveryDoc; endpoint: LiveEndpoint };

/**
 * Stage two: one delivery message → at most one HTTP attempt → one recorded outcome →
 * one JetStream action (ack, nak with delay, or term). The record is written before the
 * action, so a crash repeats an attempt at worst and never loses one.
 *
 * Before anything is read, the endpoint's gate decides whether this dispatcher may start
 * another attempt for it (its in-flight cap, its circuit breaker): a refused delivery
 * goes back to JetStream for a moment and costs no database read. A delivery for an endpoint
 * with a `rate_limit` is read and checked first, then waits for its slot in process
 * (dispatcher/pacing.ts), and goes through the gate when the slot comes.
 */
export function createDeliverer(ctx: DispatcherContext, rateLimits: RateLimits, parking: Parking) {
  // Lookups by id alone, in parallel: the query every MongoDB-wire server (FerretDB
  // included) answers from its index; `$in` is not, on FerretDB.
  const loadOne = createBatchLoader<string, DeliveryDoc>(async (ids) => {
    const docs = await Promise.all(ids.map((id) => loadDelivery(ctx.mongo.col, id)));
    return new Map(docs.filter((d): d is DeliveryDoc => d !== null).map((d) => [d._id, d]));
  });
  const health = createEndpointHealth(ctx);
  const gate = new EndpointGate({
    onCircuit: (endpointId, c) => health.circuit(endpointId, c),
    perEndpoint: ctx.config.endpointConcurrency,
    breakerThreshold: ctx.config.breakerThreshold,
    busyDelayMs: 1000,
    // Refused by an open circuit: back in a second, or when the next probe may go if later,
    // or minutes away for a backlog (see EndpointGate.refuse).
    openDelayMs: 1000,
    busyWaitMs: 50,
  });
  // Attempts in progress tell JetStream they are still working on their message, so a slow
  // receiver does not make it hand the work to another dispatcher: one timer for all. A
  // count per message: an event's first attempts made from fan-out share the event.
  const working = new Map<JsMsg, number>();
  const hold = (m: JsMsg) => working.set(m, (working.get(m) ?? 0) + 1);
  const unhold = (m: JsMsg) => {
    const n = (working.get(m) ?? 1) - 1;
    if (n > 0) working.set(m, n);
    else working.delete(m);
  };
  const heartbeat = setInterval(
    () => {
      for (const m of working.keys()) m.working();
    },
    Math.max(1000, ctx.ackWaitMs / 3),
  );
  const directSlots = new Semaphore(ctx.config.concurrency);
  const pacing = createPacing(ctx, rateLimits, parking, { hold, unhold });
  let stopping = false;

  /** Stores the attempt and what follows: an outcome when `set` ends the delivery. */
  async function finish(d: DeliveryDoc, set: Partial<DeliveryDoc>, attempt: AttemptDoc | null) {
    const incAttempts = attempt !== null;
    const status = set.status;
    const next: Next =
      status === 'succeeded' || status === 'failed'
        ? {
            kind: 'outcome',
            doc: outcomeOf(
              { ...d, ...set, attempts: d.attempts + (incAttempts ? 1 : 0) },
              status,
              attempt,
              attempt?.created_at ?? new Date(),
            ),
            topic: d.topic,
          }
        : {
            kind: 'reschedule',
            change: { deliveryId: d._id, set, incAttempts },
            attempt,
            ownerId: d.owner_id ?? null,
          };
    await ctx.recorder.record(next);
  }

  /**
   * A delivery waiting for its rate-limit slot gives the loop its place back at once (a
   * Tail): a limited endpoint's backlog never takes the places of others' deliveries.
   */
  async function handle(m: JsMsg): Promise<Tail | undefined> {
    const endpointId = m.headers?.get(H.endpoint) ?? '';
    const known =
      ctx.subscriptions.peek(endpointId) ??
      (endpointId ? await ctx.subscriptions.get(endpointId) : undefined);
    const perSecond = known?.rateLimit ?? null;
    if (perSecond !== null) {
      return pacing.enqueue(m, endpointId, perSecond, async () => {
        const r = await ready(m);
        if (!r) return null;
        // At the slot, with the endpoint as it is then (it may have changed while waiting),
        // and with nothing awaited before the request is handed to undici; `onWrite` tells
        // the lane when it was written (pacing.ts charges it if that was late).
        return (onWrite) =>
          through(m, endpointId, gate.enter(endpointId), async (leave) => {
            const endpoint = ctx.subscriptions.peek(endpointId);
            if (endpoint?.status !== 'active') {
              await abandon(r.d, m, endpoint);
              return 'none';
            }
            return attempt(r.d, m, endpoint, leave, onWrite);
          });
      });
    }
    await gated(m, endpointId, async (leave) => {
      const r = await ready(m);
      if (!r) return 'none';
      if (r.endpoint.rateLimit !== null) {
        // A limit set a moment ago: back at once, to wait for a slot like the others.
        await parking.later(m, 0);
        return 'none';
      }
      return attempt(r.d, m, r.endpoint, leave);
    });
    return undefined;
  }

  /** Through the endpoint's gate (its in-flight cap, its circuit), then `then`. */
  async function gated(
    m: JsMsg,
    endpointId: string,
    then: (leave: Leave) => Promise<AttemptResult>,
  ): Promise<void> {
    await through(m, endpointId, await gate.admit(endpointId), then);
  }

  /** `then` if the gate admitted the delivery (called before anything is awaited), else back. */
  async function through(
    m: JsMsg,
    endpointId: string,
    admission: Admission,
    then: (leave: Leave) => Promise<AttemptResult>,
  ): Promise<void> {
    if (!admission.ok) {
      ctx.metrics.deferred.inc({ reason: admission.reason });
      await parking.later(m, admission.delayMs);
      return;
    }
    // The endpoint's slot is given back as soon as its answer is in (the attempt calls
    // leave then), not after the outcome is stored: the cap is on requests to the endpoint.
    const leave = leaveOnce(endpointId, admission.probe);
    let result: AttemptResult = 'none';
    try {
      result = await then(leave);
    } finally {
      leave(result);
    }
  }

  /** Gives the endpoint's slot back once, however often it is called. */
  function leaveOnce(endpointId: string, probe: boolean): Leave {
    let left = false;
    return (result) => {
      if (left) return;
      left = true;
      gate.leave(endpointId, probe, result);
    };
  }

  /**
   * The delivery's record and endpoint when it is to be attempted now; otherwise it is
   * settled here (ended, abandoned, or handed back until it is due) and null.
   */
  async function ready(m: JsMsg): Promise<Ready | null> {
    const id = m.headers?.get(H.delivery) ?? '';
    const generation = Number(m.headers?.get(H.generation) ?? '0');
    // A fan-out's delivery handed out for the first time is in the state fan-out stored it
    // in: no need to read it. Retries, redeliveries and manual retries read the record.
    const d =
      (m.info.deliveryCount === 1 && generation === 0 ? firstState(m, id) : null) ??
      (id ? await loadOne(id) : undefined);
    // Gone from the store, done already, or superseded by a manual retry: nothing to send.
    if (d?.status !== 'pending' || d.generation !== generation) {
      m.term();
      return null;
    }

    const endpoint = await ctx.subscriptions.get(d.endpoint_id);
    if (endpoint?.status !== 'active') {
      await abandon(d, m, endpoint);
      return null;
    }

    const due = d.next_attempt_at ? d.next_attempt_at.getTime() - Date.now() : 0;
    if (due > EARLY_SLACK_MS) {
      await parking.later(m, due);
      return null;
    }
    return { d, endpoint };
  }

  /** The endpoint was deleted or disabled: the delivery ends, failed, without an attempt. */
  async function abandon(d: DeliveryDoc, m: JsMsg, endpoint: LiveEndpoint | undefined) {
    const why = !endpoint ? 'endpoint deleted' : `endpoint ${endpoint.status}`;
    await finish(d, { status: 'failed', next_attempt_at: null, last_error: why }, null);
    ctx.metrics.outcomes.inc({ outcome: 'abandoned' });
    m.term();
  }

  /**
   * One attempt: POST, classify, free the endpoint's slot, store the record and what
   * follows it. `owner` is the JetStream message the work belongs to (the delivery's own,
   * or the event's for a first attempt made from fan-out): its data is the body POSTed,
   * and it is kept alive while the attempt runs. 'released' when the owner was handed back at shutdown meanwhile;
   * 'unrecorded' when MongoDB did not take the record (the attempt must be repeated).
   */
  async function post(
    d: DeliveryDoc,
    endpoint: LiveEndpoint,
    leave: Leave,
    owner: JsMsg,
    onWrite?: () => void,
  ): Promise<Outcome | 'released' | 'unrecorded'> {
    const ts = Math.floor(Date.now() / 1000);
    const body = Buffer.from(owner.data.buffer, owner.data.byteOffset, owner.data.byteLength);
    hold(owner);
    try {
      const res = await postJson(
        ctx.agent,
        endpoint.url,
        {
          'webhook-id': d.message_id,
          'webhook-timestamp': String(ts),
          'webhook-signature': signatureHeader(signingKeys(endpoint), d.message_id, ts, body),
        },
        body,
        {
          timeoutMs: ctx.config.deliveryTimeout,
          maxResponseBytes: RESPONSE_BODY_LIMIT,
          extraHeaders: endpoint.headers,
          onWrite,
        },
      );
      if (ctx.released.has(owner)) return 'released'; // shutting down: another dispatcher owns it now
      ctx.metrics.attemptSeconds.observe(res.durationMs / 1000);

      const attempts = d.attempts + 1;
      const outcome: Outcome = classify({
        statusCode: res.statusCode,
        retryAfter: res.headers['retry-after'],
        attempts,
        maxAttempts: d.max_attempts,
        schedule: ctx.config.retrySchedule,
      });
      leave(outcome.kind === 'succeeded' ? 'success' : 'failure');
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
      const next =
        outcome.kind === 'retry'
          ? { ...common, next_attempt_at: new Date(now.getTime() + outcome.delayMs) }
          : {
              ...common,
              status: outcome.kind === 'succeeded' ? ('succeeded' as const) : ('failed' as const),
              next_attempt_at: null,
            };
      try {
        // The heartbeat goes on while the outcome is written: a slow store must not make
        // JetStream hand the work to another dispatcher, which would attempt it again.
        await finish(d, next, record);
      } catch (err) {
        ctx.log.warn(
          { err, delivery_id: d._id },
          'could not record an attempt; it will be repeated',
        );
        return 'unrecorded';
      }
      ctx.metrics.outcomes.inc({ outcome: outcome.kind });
      return outcome;
    } finally {
      unhold(owner);
    }
  }

  async function attempt(
    d: DeliveryDoc,
    m: JsMsg,
    endpoint: LiveEndpoint,
    leave: Leave,
    onWrite?: () => void,
  ): Promise<AttemptResult> {
    const outcome = await post(d, endpoint, leave, m, onWrite);
    if (outcome === 'released') return 'none';
    if (outcome === 'unrecorded') {
      m.nak(STORE_RETRY_MS);
      return 'none';
    }
    if (outcome.kind === 'retry') await parking.later(m, outcome.delayMs);
    else if (outcome.kind === 'succeeded') m.ack();
    else m.term();
    return afterwards(outcome, endpoint);
  }

  /** The endpoint's health, after the delivery is settled: never holds it up. */
  async function afterwards(outcome: Outcome, endpoint: LiveEndpoint): Promise<AttemptResult> {
    if (outcome.kind === 'succeeded') {
      health.succeeded(endpoint);
      return 'success';
    }
    if (outcome.kind === 'gone') await health.disable(endpoint, 'the endpoint answered 410 Gone');
    else await health.failed(endpoint);
    return 'failure';
  }

  /**
   * A first attempt made by fan-out itself, without the trip through the deliveries stream
   * (a publish, its PubAck, a hand-out and an ack: most of JetStream's work per delivery):
   * only for an endpoint with no trouble in sight (see EndpointGate.tryEnter), no rate
   * limit, and while this dispatcher has fewer than HOOKLINE_CONCURRENCY such attempts in
   * flight. Null when the delivery must be queued instead. The promise settles once the
   * attempt is recorded and, for a retry, the delivery is queued for it; it rejects when
   * either could not be stored, and the event must then be fanned out again.
   *
   * The event is acknowledged only after all of this (fan-out waits for the promises), so
   * a crash before then fans the event out again, and every delivery is queued with its
   * stored state read back: nothing recorded is attempted again.
   */
  function direct(
    event: JsMsg,
    stored: StoredDelivery,
    endpoint: LiveEndpoint,
  ): Promise<void> | null {
    if (endpoint.rateLimit !== null || stopping) return null;
    if (!directSlots.tryAcquire()) return null;
    if (!gate.tryEnter(endpoint.id)) {
      directSlots.release();
      return null;
    }
    const leave = leaveOnce(endpoint.id, false);
    const d = withDefaults(stored);
    ctx.metrics.direct.inc();
    return (async () => {
      try {
        const outcome = await post(d, endpoint, leave, event);
        if (outcome === 'released') return;
        if (outcome === 'unrecorded') throw new Error('an attempt could not be recorded');
        if (outcome.kind === 'retry')
          await enqueueDelivery(ctx.publish, ctx.config.namespace, jobOf(d, event.data, true));
        // The delivery is settled: a failure to note the endpoint's health is not its own.
        await afterwards(outcome, endpoint).catch((err: unknown) =>
          ctx.log.warn({ err, endpoint_id: endpoint.id }, "could not update an endpoint's health"),
        );
      } finally {
        leave('none'); // no attempt was made after all (when one was, it left already)
        directSlots.release();
      }
    })();
  }

  /** The state fan-out stored, from the job's headers; null for a job without them. */
  function firstState(m: JsMsg, id: string): DeliveryDoc | null {
    const h = m.headers;
    const created = Number(h?.get(H.created) ?? '');
    if (!h || !id || !created || h.has(H.parked)) return null;
    return withDefaults(
      newDelivery({
        id,
        messageId: h.get(H.message),
        endpointId: h.get(H.endpoint),
        ownerId: h.get(H.owner) || null,
        topic: h.get(H.topic),
        maxAttempts: 1 + ctx.config.retrySchedule.length,
        createdAt: new Date(created),
      }),
    );
  }

  return {
    handle,
    direct,
    gate,
    /**
     * No new first attempts from fan-out (shutting down: fan-out queues everything), and the
     * deliveries waiting for a rate-limit slot handed back.
     */
    stop() {
      stopping = true;
      pacing.stop();
    },
    close() {
      stopping = true;
      clearInterval(heartbeat);
    },
  };
}
