import {
  AckPolicy,
  DeliverPolicy,
  headers as natsHeaders,
  type JetStreamManager,
  type JsMsg,
  type MsgHdrs,
} from 'nats';
import { H } from '../core/event.js';
import { alreadyThere } from '../core/nats.js';
import type { DispatcherContext } from './context.js';

/** How often each dispatcher looks for parked deliveries that have come due. */
const TICK_MS = 1000;
/** Parked deliveries moved back per fetch. */
const FETCH = 500;
/** Seconds moved back at once, oldest first. */
const SECONDS_AT_ONCE = 4;
/**
 * A second that failed this many ticks in a row has its consumer deleted, so that the next
 * tick creates it afresh (its parked deliveries stay in the stream until acknowledged).
 */
const RESET_AFTER = 5;
const nanos = (ms: number) => ms * 1_000_000;

/**
 * A delay of a second or more, lengthened to end on a whole second. JetStream keeps a
 * nak'ed message pending until its delay ends and wakes up to check the pending at the
 * earliest end: ends spread over every millisecond wake it up to a thousand times a second,
 * each time going through all the pending, while ends on whole seconds wake it once a
 * second. A delay below a second is left as it is.
 */
export function onSecond(delayMs: number, now = Date.now()): number {
  if (delayMs < 1000) return delayMs;
  return Math.ceil((now + delayMs) / 1000) * 1000 - now;
}

/** The second (Unix time) a delivery due at `dueMs` is parked under: never before it is due. */
export function bucketOf(dueMs: number): number {
  return Math.ceil(dueMs / 1000);
}

/** A copy of a message's own headers (not the `Nats-` ones JetStream adds), for republishing. */
function copyHeaders(from: MsgHdrs | undefined): MsgHdrs {
  const h = natsHeaders();
  for (const k of from?.keys() ?? []) {
    if (/^nats-/i.test(k)) continue;
    for (const v of from?.values(k) ?? []) h.append(k, v);
  }
  return h;
}

export interface Parking {
  /**
   * Hands a delivery back to wait `delayMs`. A short wait is a nak with that delay. A long
   * one (at least HOOKLINE_PARK_AFTER) moves the delivery to the parking stream, under the
   * second it is due, and acknowledges it on the deliveries stream.
   */
  later(m: JsMsg, delayMs: number): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/**
 * Parking: deliveries that wait minutes or hours — a late retry, an endpoint whose circuit
 * is open, one far over its rate limit — wait outside the deliveries consumer.
 *
 * JetStream keeps a nak'ed message in its consumer's pending set until the delay ends,
 * and its cost grows with that set: on the 2-core bench machine NATS used 14 % of a core
 * with nothing waiting and 45 % with 100,000 waiting, and fresh deliveries slowed to two
 * thirds (docs/benchmarks.md). A parked delivery is a stored message in a stream nobody
 * reads until its second comes: it costs JetStream nothing in the meantime.
 *
 * Each dispatcher looks once a second at which seconds hold parked deliveries (one subject
 * per second) and, for each that has come, moves its deliveries back to the deliveries
 * stream through a durable consumer named after the second. Every dispatcher that looks
 * shares that consumer, so the work is split, and a dispatcher killed while moving leaves
 * its unacknowledged share to the others. The parked copy is acknowledged (and so removed)
 * only after the deliveries stream has stored the delivery again: nothing is lost; a crash
 * at the wrong moment can move one twice, and the second copy finds its delivery done.
 *
 * On a cluster each such consumer is a replicated group of its own, and creating one waits
 * for its election: about 80 ms on an idle three-node cluster on the 2-core test machine,
 * often more than a request's 5 s under the cluster test's load with a server down. A tick
 * used to stop at its first failure and begin again at the oldest second, so one second
 * whose consumer did not answer held up every later one (findings.md: nothing but
 * "TIMEOUT" for a minute). Now each second is moved on its own, a few at once, and one
 * whose consumer keeps failing has it deleted, to be created afresh.
 */
export function createParking(ctx: DispatcherContext, jsm: JetStreamManager): Parking {
  const { names, js, log, metrics, publish } = ctx;
  const parkAfter = ctx.config.parkAfter;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;

  async function later(m: JsMsg, delayMs: number): Promise<void> {
    if (ctx.released.has(m)) return; // handed back at shutdown already
    if (delayMs < parkAfter) {
      m.nak(onSecond(delayMs));
      return;
    }
    const bucket = bucketOf(Date.now() + delayMs);
    try {
      // The id makes a second parking of the same message (its ack was lost) a no-op.
      await publish(`${names.parkedPrefix}${bucket}`, m.data, {
        headers: copyHeaders(m.headers),
        msgID: `park.${m.seq}`,
      });
    } catch (err) {
      log.warn({ err }, 'could not park a delivery; it waits in the deliveries stream');
      m.nak(onSecond(delayMs));
      return;
    }
    m.ack();
    metrics.parked.inc();
  }

  async function unpark(pm: JsMsg): Promise<void> {
    const endpoint = pm.headers?.get(H.endpoint) ?? '';
    if (!endpoint) {
      log.error({ seq: pm.seq }, 'parked message without an endpoint; dropped');
      pm.term();
      return;
    }
    const h = copyHeaders(pm.headers);
    h.set(H.parked, '1');
    try {
      await publish(names.deliveriesSubject(endpoint), pm.data, {
        headers: h,
        msgID: `unpark.${pm.seq}`,
      });
    } catch (err) {
      log.warn({ err }, 'could not move a parked delivery back; it will be tried again');
      pm.nak(TICK_MS);
      return;
    }
    // Confirmed, so that a drained per-second consumer has nothing left pending and can go.
    await pm.ackAck().catch(() => false);
    metrics.unparked.inc();
  }

  /** How many ticks in a row each second has failed. */
  const failing = new Map<number, number>();

  /** Moves one second's deliveries back; `at.step` says where it failed. */
  async function drain(second: number, at: { step: string }): Promise<void> {
    const durable = `unpark_${second}`;
    at.step = 'create consumer';
    try {
      await jsm.consumers.add(names.parkedStream, {
        durable_name: durable,
        filter_subject: `${names.parkedPrefix}${second}`,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(30_000),
        max_deliver: -1,
        // Gone by itself if every dispatcher that used it stopped before deleting it.
        inactive_threshold: nanos(120_000),
      });
    } catch (err) {
      if (!alreadyThere(err)) throw err;
    }
    at.step = 'get consumer';
    const consumer = await js.consumers.get(names.parkedStream, durable);
    while (!stopped) {
      at.step = 'consumer info';
      const info = await consumer.info();
      if (info.num_pending === 0) {
        at.step = 'delete consumer';
        if (info.num_ack_pending === 0)
          await jsm.consumers.delete(names.parkedStream, durable).catch(() => undefined);
        return;
      }
      at.step = 'fetch';
      const batch = await consumer.fetch({
        max_messages: Math.min(FETCH, info.num_pending),
        expires: 2000,
      });
      const moves: Promise<void>[] = [];
      for await (const pm of batch) moves.push(unpark(pm));
      await Promise.all(moves);
    }
  }

  async function move(second: number): Promise<void> {
    const at = { step: '' };
    try {
      await drain(second, at);
      failing.delete(second);
    } catch (err) {
      // Deleted by another dispatcher that moved the last of it: the next tick looks again.
      if (stopped || /consumer (not found|deleted)/i.test(String(err))) return;
      const times = (failing.get(second) ?? 0) + 1;
      failing.set(second, times);
      log.warn(
        { err, second, step: at.step, times },
        'could not move parked deliveries back; trying again',
      );
      if (times < RESET_AFTER) return;
      failing.delete(second);
      await jsm.consumers.delete(names.parkedStream, `unpark_${second}`).catch(() => undefined);
    }
  }

  async function tick(): Promise<void> {
    const info = await jsm.streams.info(names.parkedStream, {
      subjects_filter: `${names.parkedPrefix}*`,
    });
    const now = Date.now();
    const due = Object.keys(info.state.subjects ?? {})
      .map((s) => Number(s.slice(names.parkedPrefix.length)))
      .filter((second) => Number.isInteger(second) && second * 1000 <= now)
      .sort((a, b) => a - b);
    for (const second of failing.keys()) if (!due.includes(second)) failing.delete(second);
    let next = 0;
    const worker = async () => {
      for (let k = next++; k < due.length && !stopped; k = next++) await move(due[k] as number);
    };
    await Promise.all(Array.from({ length: Math.min(SECONDS_AT_ONCE, due.length) }, worker));
  }

  function schedule() {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick()
        .catch((err: unknown) => {
          if (!stopped)
            log.warn({ err }, 'could not look for parked deliveries that are due; trying again');
        })
        .finally(() => {
          running = null;
          schedule();
        });
    }, TICK_MS);
  }

  return {
    later,
    start: schedule,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
