import {
  headers as natsHeaders,
  type JetStreamManager,
  type JsMsg,
  type MsgHdrs,
  type SeqMsgRequest,
  type StoredMsg,
} from 'nats';
import { H } from '../core/event.js';
import type { DispatcherContext } from './context.js';

/** How often each dispatcher looks for parked deliveries that have come due. */
const TICK_MS = 1000;
/** Seconds moved back at once, oldest first. */
const SECONDS_AT_ONCE = 4;
/** Moves of one second in flight at once (each a publish, then a delete). */
const MOVES_AT_ONCE = 64;

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
 * stream: it reads them one after another by subject, publishes each back, and deletes
 * the parked copy by its sequence only once the deliveries stream has stored it again
 * (about 1,000 a second on the busy 2-core test machine; the consumer version below moved
 * about 3,000, fetching 500 at a time). Nothing is lost: a dispatcher killed while moving
 * leaves what it had not deleted for the next tick, anyone's. Moving one twice is
 * harmless: its `Nats-Msg-Id` (`unpark.<seq>`) makes the second copy a duplicate JetStream
 * drops, and the PubAck says so, which is how a dispatcher sees that another one is moving
 * the same second and leaves that second to it. (After the two-minute duplicate window a
 * second copy can be stored; it finds its delivery done, or due later.)
 *
 * The first version moved each second through a durable consumer named after it, shared
 * by the dispatchers. On a cluster each such consumer is a replicated group of its own
 * (R1 is refused on an R3 work queue), and creating one waits for an election: 70-120 ms
 * on an idle three-node cluster on the 2-core test machine, often more than a request's
 * 5 s under the cluster test's load with a server down, and a tick stopped at its first
 * failure, so one second whose consumer did not answer held up every later one
 * (findings.md: nothing but "TIMEOUT" for a minute; 3 and 16 deliveries still parked 45 s
 * after the load in two of three runs even with the seconds moved one by one). Reads by
 * subject need no group, and each second is moved on its own, a few at once.
 */
export function createParking(ctx: DispatcherContext, jsm: JetStreamManager): Parking {
  const { names, log, metrics, publish } = ctx;
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

  /** Moves one parked delivery back; true when another dispatcher had moved it already. */
  async function unpark(pm: StoredMsg): Promise<boolean> {
    const endpoint = pm.header.get(H.endpoint);
    if (endpoint) {
      const h = copyHeaders(pm.header);
      h.set(H.parked, '1');
      const ack = await publish(names.deliveriesSubject(endpoint), pm.data, {
        headers: h,
        msgID: `unpark.${pm.seq}`,
      });
      if (!ack.duplicate) metrics.unparked.inc();
      // Stored again: the parked copy can go (another dispatcher may have deleted it).
      await jsm.streams.deleteMessage(names.parkedStream, pm.seq, false).catch(() => false);
      return ack.duplicate;
    }
    log.error({ seq: pm.seq }, 'parked message without an endpoint; dropped');
    await jsm.streams.deleteMessage(names.parkedStream, pm.seq, false).catch(() => false);
    return false;
  }

  /**
   * Moves back the deliveries parked under `second`, oldest first: each read starts after
   * the one before, and the moves (publish, PubAck, delete) run alongside the next reads.
   * Stops early when another dispatcher is moving the same ones.
   */
  async function move(second: number): Promise<void> {
    const subject = `${names.parkedPrefix}${second}`;
    const moving = new Set<Promise<unknown>>();
    let failed: unknown = null;
    let otherHere = false;
    let seq = 0;
    try {
      while (!stopped && !otherHere && failed === null) {
        // The first message on the subject from `seq` on. The server has taken
        // `next_by_subj` since 2.9 (checked on 2.9.10 and 2.15.2); nats.js 2.29 types it
        // only for direct gets, which need the stream's allow_direct.
        const query: SeqMsgRequest & { next_by_subj: string } = { seq, next_by_subj: subject };
        let pm: StoredMsg;
        try {
          pm = await jsm.streams.getMessage(names.parkedStream, query);
        } catch (err) {
          if (/no message found/i.test(String(err))) break;
          throw err;
        }
        seq = pm.seq + 1;
        const p: Promise<unknown> = unpark(pm)
          .then((duplicate) => {
            if (duplicate) otherHere = true;
          })
          .catch((err: unknown) => {
            failed = err;
          })
          .finally(() => moving.delete(p));
        moving.add(p);
        if (moving.size >= MOVES_AT_ONCE) await Promise.race(moving);
      }
    } finally {
      await Promise.all(moving);
    }
    if (failed !== null) throw failed;
  }

  async function tick(): Promise<void> {
    const info = await jsm.streams.info(names.parkedStream, {
      subjects_filter: `${names.parkedPrefix}*`,
    });
    if (info.state.messages === 0) return;
    const now = Date.now();
    const due = Object.keys(info.state.subjects ?? {})
      .map((s) => Number(s.slice(names.parkedPrefix.length)))
      .filter((second) => Number.isInteger(second) && second * 1000 <= now)
      .sort((a, b) => a - b);
    // Each second on its own: one that fails (its publishes refused during an election)
    // does not hold up the others, and is tried again at the next tick.
    let next = 0;
    const worker = async () => {
      for (let k = next++; k < due.length && !stopped; k = next++) {
        const second = due[k] as number;
        await move(second).catch((err: unknown) => {
          if (!stopped)
            log.warn({ err, second }, 'could not move parked deliveries back; trying again');
        });
      }
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
