/**
 * The arithmetic of an endpoint's `rate_limit`, pure (the bucket, the clock and the waiting
 * are dispatcher/ratelimit.ts's and dispatcher/pacing.ts's): GCRA, the generic cell rate
 * algorithm, with the emission interval T = 1.025 s / rate and a tolerance τ of 10 ms.
 *
 * An endpoint's state is one time, `tat` (the theoretical arrival time): the slot of the
 * next request. A request that asks at `now` takes the slot max(tat, now − τ) if that is
 * at most a lookahead λ of 10 ms away, and moves `tat` one interval past it; otherwise it
 * must ask again at `tat` − λ. So slots are taken just before their requests go (λ covers
 * the round trip to the bucket), never long in advance, and a dispatcher that stalls does
 * not hold slots it cannot use: another dispatcher takes them.
 *
 * What that allows: r consecutive slots span at least r × T = 1.025 s, so any 1 s window
 * holds at most r of them, with 25 ms to spare for requests that go a little after their
 * slot (up to LATE_MS = 20 ms) and for the variation in how long they take to reach the
 * receiver, so that a receiver counting in any 1 s window counts at most r. A request that
 * goes later than that (its dispatcher stalled after taking the slot) is charged when it
 * goes (`charge`), so the requests after it move and the count still holds, provided the
 * charge comes before the request r slots later takes its slot, 1.025 s − λ after: one that
 * would go more than STALE_MS after its slot gives the slot up instead.
 *
 * τ lets a request that asks a few ms after its slot (a timer that fired late) keep it, so
 * the rate is not lost to small delays. With a backlog an endpoint gets r / 1.025 requests
 * a second (19.5 at 20), evenly spaced. No burst: slots are always T apart; after a quiet
 * spell the first request goes at once and the next one T later (only a rate whose
 * interval is under τ has slots in the past to send at once: 1 + ⌊τ / T⌋ of them).
 */

/** How much longer than a second `rate` consecutive slots span. */
export const SLACK_MS = 25;
/** How late a request may ask for a slot and still have it (τ). */
export const TOLERANCE_MS = 10;
/** How early a request may take its slot (λ), to wait for it in process. */
export const LOOKAHEAD_MS = 10;

/** The time between two requests to an endpoint limited to `perSecond`. */
export function intervalMs(perSecond: number): number {
  return (1000 + SLACK_MS) / perSecond;
}

export interface Claim {
  /** The slots taken, earliest first: none more than λ ahead, none more than τ past. */
  slots: number[];
  /** The state after them. */
  tat: number;
  /** When to ask for the next slot. */
  wakeAt: number;
}

/** Takes up to `wanted` slots at `now`. */
export function claim(
  tat: number,
  now: number,
  wanted: number,
  interval: number,
  tolerance = TOLERANCE_MS,
  lookahead = LOOKAHEAD_MS,
): Claim {
  const first = Math.max(tat, now - tolerance);
  if (first > now + lookahead || wanted <= 0) return { slots: [], tat, wakeAt: first - lookahead };
  const n = Math.min(wanted, Math.floor((now + lookahead - first) / interval) + 1);
  const slots = Array.from({ length: n }, (_, i) => first + i * interval);
  const next = first + n * interval;
  return { slots, tat: next, wakeAt: next - lookahead };
}

/** How late after its slot a request may go without being charged again. */
export const LATE_MS = 20;
/** How late after its slot a request may go at all (charged); later, it gives the slot up. */
export const STALE_MS = 500;

/**
 * The state after a request whose slot was `slot` and which went at `sentAt`, later than
 * LATE_MS after it, so that the r requests after it still span r × T − LATE_MS from when
 * it went. If no later slot was taken yet, the next one moves by as much as the request
 * was late beyond LATE_MS; if some were (by other dispatchers, while this one stalled), they
 * go as planned and the request is charged a slot of its own, as if it had asked LATE_MS
 * before it went: that costs the rate one slot.
 */
export function charge(tat: number, slot: number, sentAt: number, interval: number): number {
  const untouched = tat <= slot + interval + 1e-6;
  return untouched
    ? Math.max(tat, sentAt - LATE_MS + interval)
    : Math.max(tat, sentAt - LATE_MS) + interval;
}

export interface ComeBack {
  /** How far ahead of its expected turn a delivery told to wait should be back. */
  leadMs: number;
  /** Waits at least this long go to the parking stream (HOOKLINE_PARK_AFTER)… */
  parkAfterMs: number;
  /** …which brings them back up to this much late: they are asked back that much earlier. */
  parkLateMs: number;
  /** The shortest wait. */
  minMs: number;
}

/** How long a delivery whose turn is expected at `turn` waits before it comes back. */
export function comeBackIn(turn: number, now: number, c: ComeBack): number {
  const wait = turn - c.leadMs - now;
  // A parked delivery is asked back earlier, but not so much earlier that it is not parked.
  const ms = wait >= c.parkAfterMs ? Math.max(wait - c.parkLateMs, c.parkAfterMs) : wait;
  return Math.max(c.minMs, Math.ceil(ms));
}
