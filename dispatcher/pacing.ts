import type { JsMsg } from 'nats';
import { H } from '../core/event.js';
import type { DispatcherContext, Tail } from './context.js';
import { comeBackIn, intervalMs, LATE_MS, STALE_MS } from './gcra.js';
import type { Parking } from './parking.js';
import type { RateLimits } from './ratelimit.js';

/**
 * Deliveries to endpoints with a `rate_limit`, waiting in process for their slot. Each such
 * endpoint has a lane in each dispatcher: the deliveries ready to go (their record read and
 * checked), and one loop that takes slots from the shared bucket (dispatcher/ratelimit.ts)
 * as they come and sends a delivery on each. Every dispatcher holding deliveries for the
 * endpoint asks for the next slot when it is due, and the first to ask takes it: a
 * dispatcher that stalls leaves the slots to the others instead of losing them.
 *
 * A lane holds about two seconds of deliveries at the limit (LANE_MS): more than the whole
 * second that JetStream's redelivery is rounded up to (dispatcher/parking.ts: onSecond), so
 * deliveries handed back come back before the lane runs dry. The others are handed back to
 * come back when their turn is expected (counting what this dispatcher holds and has handed
 * back before them; with several dispatchers they come back early, and may be handed back
 * again).
 *
 * A waiting delivery holds none of the dispatcher's HOOKLINE_CONCURRENCY places nor the
 * endpoint's in-flight cap (both are for requests), only its JetStream message, kept alive.
 * Shutting down hands every waiting delivery back at once.
 */

/** A lane holds this long of deliveries at the limit. */
const LANE_MS = 2000;
/** Deliveries waiting in one dispatcher, all lanes together, at most. */
export const MAX_WAITING = 4096;
/** A delivery handed back is asked back this long before its expected turn. */
const LEAD_MS = 1500;
/** The parking stream brings a delivery back up to about this much after it is due. */
const PARK_LATE_MS = 2000;
/** When the bucket cannot be reached, the lane's deliveries come back after this long. */
const FAILED_MS = 5000;

interface Waiting {
  m: JsMsg;
  returning: boolean;
  /** Has given a slot up (STALE_MS) already: goes on the next, however late (charged). */
  stale: boolean;
  go: (onWrite: () => void) => Promise<void>;
  /** Settle the delivery's Tail. */
  done: () => void;
  fail: (err: unknown) => void;
}

interface Lane {
  perSecond: number;
  ready: Waiting[];
  /** Deliveries whose record is being read before they join `ready`. */
  preparing: number;
  /** When the turn of the next delivery handed back is expected. */
  cursor: number;
  running: boolean;
  /** Deliveries with a slot, waiting for it (at most LOOKAHEAD_MS). */
  timed: number;
  sleeping: { timer: NodeJS.Timeout; wake: () => void } | null;
}

export interface Pacing {
  /**
   * Takes a delivery for an endpoint limited to `perSecond`. `ready`, called once the
   * delivery has a place in the lane, resolves with the request to make at its slot, or
   * null when it settled the delivery otherwise (done already, not due yet…). The Tail
   * settles once the request is made or the delivery handed back; there is none when the
   * delivery is handed back at once.
   */
  enqueue(
    m: JsMsg,
    endpointId: string,
    perSecond: number,
    ready: () => Promise<((onWrite: () => void) => Promise<void>) | null>,
  ): Promise<Tail | undefined>;
  stop(): void;
}

export function createPacing(
  ctx: DispatcherContext,
  limits: RateLimits,
  parking: Parking,
  keep: { hold(m: JsMsg): void; unhold(m: JsMsg): void },
): Pacing {
  const lanes = new Map<string, Lane>();
  const comeBack = {
    leadMs: LEAD_MS,
    parkAfterMs: ctx.config.parkAfter,
    parkLateMs: PARK_LATE_MS,
    minMs: 20,
  };
  let waiting = 0;
  let stopped = false;

  function release(w: Waiting, delayMs: number | null): void {
    keep.unhold(w.m);
    waiting--;
    if (delayMs !== null && !ctx.released.has(w.m)) w.m.nak(delayMs);
    w.done();
  }

  function sleep(lane: Lane, until: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        lane.sleeping = null;
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, until - Date.now()));
      lane.sleeping = { timer, wake };
    });
  }

  /** The lane's loop: slots as soon as they come, for as long as deliveries are ready. */
  async function run(endpointId: string, lane: Lane): Promise<void> {
    lane.running = true;
    try {
      while (lane.ready.length > 0 && !stopped) {
        const c = await limits.claim(endpointId, lane.perSecond, lane.ready.length);
        for (const slot of c.slots) {
          const w = lane.ready.shift();
          if (!w) break; // handed back at shutdown meanwhile: the slot goes unused
          const wait = slot - Date.now();
          if (wait <= 0) send(endpointId, lane, w, slot);
          else {
            lane.timed++;
            setTimeout(() => {
              lane.timed--;
              send(endpointId, lane, w, slot);
            }, wait);
          }
        }
        if (lane.ready.length > 0 && !stopped) await sleep(lane, c.wakeAt);
      }
    } catch (err) {
      ctx.log.warn({ err, endpoint_id: endpointId }, 'rate limit bucket unavailable; retrying');
      for (const w of lane.ready.splice(0)) release(w, FAILED_MS);
    } finally {
      lane.running = false;
      tidy(endpointId, lane);
    }
  }

  /**
   * The request, on its slot. One that goes too late after it (this dispatcher stalled
   * between taking the slot and now) is not held back further but charged, so that the
   * requests after it keep their distance (gcra.ts: charge); one that
   * would go so late that the charge could come too late gives the slot up and waits for
   * the next one free, once (a dispatcher that stalls that long every time still sends).
   */
  function send(endpointId: string, lane: Lane, w: Waiting, slot: number): void {
    if (stopped) {
      release(w, 0);
      tidy(endpointId, lane);
      return;
    }
    const now = Date.now();
    if (now - slot > STALE_MS && !w.stale) {
      w.stale = true;
      lane.ready.unshift(w);
      if (lane.running) lane.sleeping?.wake();
      else void run(endpointId, lane);
      return;
    }
    keep.unhold(w.m); // the attempt keeps the message alive from here
    waiting--;
    // Late or not when undici writes the request, not when it is handed over: on a
    // connection it reuses, undici writes in the event loop's next check phase at the
    // soonest (it first lets the socket show whether the server closed it), and on a busy
    // dispatcher that came up to 120 ms after the slot.
    w.go((): void => {
      const sent = Date.now();
      if (sent - slot <= LATE_MS) return;
      limits.charge(endpointId, lane.perSecond, slot, sent).catch((err: unknown) => {
        ctx.log.warn({ err, endpoint_id: endpointId }, 'could not charge a late request');
      });
    }).then(w.done, w.fail);
    tidy(endpointId, lane);
  }

  /** A lane with nothing waiting goes, and what the bucket's state was with it. */
  function tidy(endpointId: string, lane: Lane): void {
    if (lane.running || lane.ready.length > 0 || lane.preparing > 0 || lane.timed > 0) return;
    if (lanes.get(endpointId) === lane) lanes.delete(endpointId);
    limits.forget(endpointId);
  }

  async function handBack(m: JsMsg, lane: Lane): Promise<void> {
    const now = Date.now();
    const interval = intervalMs(lane.perSecond);
    const turn = Math.max(lane.cursor, now + (lane.ready.length + lane.preparing) * interval);
    lane.cursor = turn + interval;
    ctx.metrics.deferred.inc({ reason: 'rate_limited' });
    await parking.later(m, comeBackIn(turn, now, comeBack));
  }

  return {
    async enqueue(m, endpointId, perSecond, ready) {
      let lane = lanes.get(endpointId);
      if (!lane) {
        lane = {
          perSecond,
          ready: [],
          preparing: 0,
          cursor: 0,
          running: false,
          timed: 0,
          sleeping: null,
        };
        lanes.set(endpointId, lane);
      }
      lane.perSecond = perSecond;
      const capacity = Math.max(1, Math.ceil(LANE_MS / intervalMs(perSecond)));
      if (waiting >= MAX_WAITING || lane.ready.length + lane.preparing >= capacity) {
        await handBack(m, lane);
        tidy(endpointId, lane);
        return undefined;
      }
      const returning = m.info.deliveryCount > 1 || (m.headers?.has(H.parked) ?? false);
      const l = lane;
      keep.hold(m);
      waiting++;
      l.preparing++;
      const settled = (async () => {
        let go: ((onWrite: () => void) => Promise<void>) | null;
        try {
          go = await ready();
        } catch (err) {
          keep.unhold(m);
          waiting--;
          l.preparing--;
          tidy(endpointId, l);
          throw err;
        }
        l.preparing--;
        if (!go || stopped) {
          keep.unhold(m);
          waiting--;
          if (go && !ctx.released.has(m)) m.nak(0);
          tidy(endpointId, l);
          return;
        }
        const request = go;
        await new Promise<void>((done, fail) => {
          const w: Waiting = { m, returning, stale: false, go: request, done, fail };
          // Deliveries that have waited before go first.
          const at = returning ? l.ready.findIndex((x) => !x.returning) : -1;
          if (at >= 0) l.ready.splice(at, 0, w);
          else l.ready.push(w);
          if (!l.running) void run(endpointId, l);
        });
      })();
      return { settled };
    },

    stop() {
      stopped = true;
      for (const lane of lanes.values()) {
        lane.sleeping?.wake();
        // Handed back for another dispatcher, due at once: their slots were never taken.
        for (const w of lane.ready.splice(0)) release(w, 0);
      }
    },
  };
}
