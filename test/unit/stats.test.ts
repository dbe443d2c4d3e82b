import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ApiError } from '../../core/errors.js';
import {
  addAttempt,
  bucketStart,
  deltaUpdate,
  emptyDelta,
  LEVEL_NAMES,
  LEVELS,
  mergeDelta,
} from '../../core/stats.js';
import { MAX_BUCKETS, statsWindow } from '../../registry/stats.js';

const at = (s: string) => new Date(s);

test('statsWindow: the last hour by default, in minutes, widened to whole buckets', () => {
  const now = Date.parse('2025-03-14T09:26:53.589Z');
  assert.deepEqual(statsWindow({}, now), {
    level: '1m',
    start: Date.parse('2025-03-14T08:26:00Z'),
    end: Date.parse('2025-03-14T09:27:00Z'),
  });
  // The bucket chosen from the range: at most 300 of the smallest size that fits.
  const cases: Array<[string, string, string]> = [
    ['2025-03-14T04:00:00Z', '2025-03-14T09:00:00Z', '1m'], // 5 h: 300 minutes
    ['2025-03-14T03:00:00Z', '2025-03-14T09:00:00Z', '5m'], // 6 h
    ['2025-03-13T09:00:00Z', '2025-03-14T09:00:00Z', '5m'], // a day: 288
    ['2025-03-07T09:00:00Z', '2025-03-14T09:00:00Z', '1h'], // a week: 168
    ['2025-02-12T09:00:00Z', '2025-03-14T09:00:00Z', '1d'], // 30 days: 720 hours is too many
  ];
  for (const [from, to, level] of cases)
    assert.equal(statsWindow({ from: at(from), to: at(to) }, now).level, level, `${from} – ${to}`);
  const days = statsWindow(
    { from: at('2025-03-01T10:00:00Z'), to: at('2025-03-03T01:00:00Z'), bucket: '1d' },
    now,
  );
  assert.equal(new Date(days.start).toISOString(), '2025-03-01T00:00:00.000Z');
  assert.equal(new Date(days.end).toISOString(), '2025-03-04T00:00:00.000Z');
});

test('statsWindow: at most 1,500 buckets, and from before to (422 otherwise)', () => {
  const refused = (q: Parameters<typeof statsWindow>[0]) =>
    assert.throws(
      () => statsWindow(q, Date.parse('2025-03-14T00:00:00Z')),
      (e: unknown) => e instanceof ApiError && e.status === 422,
    );
  refused({ from: at('2025-03-01T00:00:00Z'), to: at('2025-03-14T00:00:00Z'), bucket: '1m' });
  refused({ from: at('2025-03-14T00:00:00Z'), to: at('2025-03-13T00:00:00Z') });
  refused({ from: at('2025-03-15T00:00:00Z') }); // from in the future, to defaulting to now
  // 1,500 minutes exactly is allowed.
  const ok = statsWindow(
    { from: at('2025-03-13T00:00:00Z'), to: at('2025-03-14T01:00:00Z'), bucket: '1m' },
    0,
  );
  assert.equal((ok.end - ok.start) / 60_000, MAX_BUCKETS);
});

test('property: a window covers its range in whole, aligned buckets, never more than 1,500', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 4e12 }),
      fc.integer({ min: 1, max: 4e9 }),
      fc.option(fc.constantFrom(...LEVEL_NAMES), { nil: undefined }),
      (from, span, bucket) => {
        let w: ReturnType<typeof statsWindow>;
        try {
          w = statsWindow({ from: new Date(from), to: new Date(from + span), bucket }, 0);
        } catch (e) {
          assert.ok(e instanceof ApiError && e.status === 422);
          return;
        }
        const size = LEVELS[w.level];
        assert.ok(w.start <= from && w.end >= from + span);
        assert.equal(w.start % size, 0);
        assert.equal(w.end % size, 0);
        assert.ok((w.end - w.start) / size <= MAX_BUCKETS);
        if (bucket) assert.equal(w.level, bucket);
      },
    ),
  );
});

test('counters: merged deltas keep every attempt, per endpoint and in total', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          ep: fc.constantFrom('ep_A', 'ep_B', 'ep_C'),
          ok: fc.boolean(),
          ms: fc.integer({ min: 0, max: 20_000 }),
          split: fc.boolean(),
        }),
        { maxLength: 60 },
      ),
      (attempts) => {
        const one = emptyDelta();
        const [a, b] = [emptyDelta(), emptyDelta()];
        for (const x of attempts) {
          addAttempt(one, x.ep, null, x.ok, x.ms, x.ok ? null : 'HTTP 500');
          addAttempt(x.split ? a : b, x.ep, null, x.ok, x.ms, x.ok ? null : 'HTTP 500');
        }
        mergeDelta(a, b);
        assert.deepEqual(
          { s: a.s, f: a.f, ms: a.ms, e: Object.fromEntries(a.e) },
          { s: one.s, f: one.f, ms: one.ms, e: Object.fromEntries(one.e) },
        );
        assert.equal(one.s + one.f, attempts.length);
      },
    ),
  );
});

test('counters: the upsert adds to the bucket, names the owner and the last error', () => {
  const d = emptyDelta();
  addAttempt(d, 'ep_A', 'sub_1', true, 12, null);
  addAttempt(d, 'ep_A', 'sub_1', false, 30, 'x'.repeat(500));
  addAttempt(d, 'ep.bad', null, true, 1, null);
  const t = new Date(bucketStart(Date.parse('2025-03-14T09:26:53Z'), '5m'));
  assert.equal(t.toISOString(), '2025-03-14T09:25:00.000Z');
  const u = deltaUpdate(d, t);
  assert.deepEqual(u.$inc, { s: 2, f: 1, ms: 43, 'e.ep_A.s': 1, 'e.ep_A.f': 1, 'e.ep_A.ms': 42 });
  assert.equal(u.$setOnInsert.t, t);
  const set: Record<string, string> = ('$set' in u ? u.$set : undefined) ?? {};
  assert.equal(set['e.ep_A.o'], 'sub_1');
  assert.equal(set['e.ep_A.err']?.length, 300, 'errors are cut');
});
