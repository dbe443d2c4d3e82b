import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  charge,
  claim,
  comeBackIn,
  intervalMs,
  LATE_MS,
  LOOKAHEAD_MS,
  SLACK_MS,
  STALE_MS,
  TOLERANCE_MS,
} from '../../dispatcher/gcra.js';

/** Claims at the given times (sorted), `wanted` at each, starting from an empty state. */
function run(perSecond: number, asks: Array<{ at: number; wanted: number }>) {
  const interval = intervalMs(perSecond);
  let tat = 0;
  const slots: Array<{ slot: number; at: number }> = [];
  for (const a of asks) {
    const c = claim(tat, a.at, a.wanted, interval);
    for (const s of c.slots) slots.push({ slot: s, at: a.at });
    tat = c.tat;
  }
  return { interval, slots };
}

const asks = fc
  .array(
    fc.record({ at: fc.integer({ min: 0, max: 20_000 }), wanted: fc.integer({ min: 0, max: 50 }) }),
    { maxLength: 400 },
  )
  .map((xs) => xs.sort((a, b) => a.at - b.at));

test('gcra: rate consecutive slots span 1 s plus the slack', () => {
  for (const r of [1, 3, 20, 1000, 100_000]) {
    assert.ok(Math.abs(intervalMs(r) * r - (1000 + SLACK_MS)) < 1e-6);
  }
});

test('gcra: slots are an interval apart, at most λ ahead of the claim and τ behind it', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2000 }), asks, (perSecond, xs) => {
      const { interval, slots } = run(perSecond, xs);
      slots.forEach(({ slot, at }, i) => {
        assert.ok(slot <= at + LOOKAHEAD_MS, 'a slot is never handed out long before it comes');
        assert.ok(slot >= at - TOLERANCE_MS, 'nor more than τ after it');
        const prev = slots[i - 1];
        if (prev) assert.ok(slot - prev.slot >= interval - 1e-9, 'an interval apart');
      });
    }),
  );
});

test('gcra: no 1 s window holds more than the rate, however the claims come', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), asks, (perSecond, xs) => {
      const times = run(perSecond, xs).slots.map((s) => s.slot);
      // A window starting at a slot holds the most a window can.
      for (let i = 0; i < times.length; i++) {
        let n = 0;
        for (let j = i; j < times.length && (times[j] as number) < (times[i] as number) + 1000; j++)
          n++;
        assert.ok(n <= perSecond, `${n} slots within 1 s at ${perSecond}/s`);
      }
    }),
  );
});

test('gcra: no burst after a quiet spell: one slot at once, the next an interval later', () => {
  const interval = intervalMs(20);
  const idle = claim(1_000, 60_000, 50, interval);
  assert.deepEqual(idle.slots, [60_000 - TOLERANCE_MS]);
  const next = claim(idle.tat, 60_000, 50, interval);
  assert.deepEqual(next.slots, []);
  assert.equal(next.wakeAt, 60_000 - TOLERANCE_MS + interval - LOOKAHEAD_MS);
  // Only an interval under τ has more than one slot due at once; the others are ahead.
  const fast = claim(0, 60_000, 50, intervalMs(1000));
  assert.equal(fast.slots.filter((s) => s <= 60_000).length, 1 + Math.floor(TOLERANCE_MS / 1.025));
  assert.equal(fast.slots.length, 1 + Math.floor((TOLERANCE_MS + LOOKAHEAD_MS) / 1.025));
});

test('gcra: claimers that wake at most λ + τ late lose no slot: the rate is kept exactly', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 200 }),
      fc.array(fc.double({ min: 0, max: LOOKAHEAD_MS + TOLERANCE_MS, noNaN: true }), {
        minLength: 50,
        maxLength: 300,
      }),
      (perSecond, lateness) => {
        const interval = intervalMs(perSecond);
        // Whoever asks first, when told to ask for the next slot and a little late, gets it.
        let tat = 0;
        let now = 0;
        const slots: number[] = [];
        for (const late of lateness) {
          now = Math.max(now, tat - LOOKAHEAD_MS + late);
          const c = claim(tat, now, 1, interval);
          assert.equal(c.slots.length, 1);
          slots.push(c.slots[0] as number);
          tat = c.tat;
        }
        slots.forEach((s, i) => {
          assert.ok(Math.abs(s - i * interval) < 1e-6, `slot ${i} at ${s}`);
        });
      },
    ),
  );
});

test('gcra: with late requests charged, any rate + 1 requests in a row span rate × T − LATE_MS', () => {
  // Requests are claimed one after another, each when told to ask and a little late, and
  // go on their slot plus up to LATE_MS — or, stalled, up to STALE_MS later, when they are
  // charged; stalled longer, they give the slot up. Claims go on meanwhile (other
  // dispatchers), so a stalled request can go after requests whose slots came later.
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 100 }),
      fc.array(
        fc.record({
          wake: fc.double({ min: 0, max: LOOKAHEAD_MS + TOLERANCE_MS, noNaN: true }),
          lag: fc.double({ min: 0, max: LATE_MS, noNaN: true }),
          stall: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 2000, noNaN: true })),
        }),
        { minLength: 30, maxLength: 200 },
      ),
      (perSecond, steps) => {
        const interval = intervalMs(perSecond);
        let tat = 0;
        let now = 0;
        const pending: Array<{ slot: number; at: number }> = [];
        const sent: number[] = [];
        const goUntil = (t: number) => {
          pending.sort((a, b) => a.at - b.at);
          while (pending.length > 0 && (pending[0] as { at: number }).at <= t) {
            const p = pending.shift() as { slot: number; at: number };
            if (p.at - p.slot > STALE_MS) continue; // given up: the slot goes unused
            if (p.at - p.slot > LATE_MS) tat = charge(tat, p.slot, p.at, interval);
            sent.push(p.at);
          }
        };
        for (const step of steps) {
          now = Math.max(now, tat - LOOKAHEAD_MS + step.wake);
          goUntil(now);
          const c = claim(tat, now, 1, interval);
          tat = c.tat;
          for (const slot of c.slots)
            pending.push({ slot, at: Math.max(slot, now) + (step.stall || step.lag) });
        }
        goUntil(Number.POSITIVE_INFINITY);
        sent.sort((a, b) => a - b);
        for (let i = 0; i + perSecond < sent.length; i++) {
          const span = (sent[i + perSecond] as number) - (sent[i] as number);
          assert.ok(
            span >= perSecond * interval - LATE_MS - 1e-6,
            `${perSecond + 1} in ${span} ms`,
          );
        }
      },
    ),
  );
});

test('gcra: a delivery told to wait comes back ahead of its turn, parked ones earlier', () => {
  const c = { leadMs: 1500, parkAfterMs: 10_000, parkLateMs: 2000, minMs: 20 };
  assert.equal(comeBackIn(5_000, 0, c), 3500);
  assert.equal(comeBackIn(1_000, 0, c), 20, 'never less than the shortest wait');
  assert.equal(comeBackIn(60_000, 0, c), 56_500, 'parked: asked back earlier');
  assert.equal(comeBackIn(12_000, 0, c), 10_000, 'but still parked');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10_000_000 }), (turn) => {
      const ms = comeBackIn(turn, 0, c);
      assert.ok(ms >= c.minMs && ms <= Math.max(c.minMs, turn - c.leadMs));
      if (turn - c.leadMs >= c.parkAfterMs) assert.ok(ms >= c.parkAfterMs);
    }),
  );
});
