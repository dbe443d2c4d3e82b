import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { nextRetryDelay, parseRetryAfter } from '../../core/backoff.js';
import { parseDuration, parseSchedule } from '../../core/duration.js';
import { classify } from '../../dispatcher/outcome.js';

const schedule = parseSchedule('5s,5m,30m,2h,5h,10h,10h');

test('the default schedule parses to seven retries', () => {
  assert.deepEqual(schedule, [5000, 300000, 1800000, 7200000, 18000000, 36000000, 36000000]);
  assert.equal(parseDuration('100ms'), 100);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.deepEqual(parseSchedule(''), []);
  assert.throws(() => parseDuration('5 minutes'));
  assert.throws(() => parseSchedule('5s,,5m'));
});

test('delays follow the schedule within ±20% jitter, and end with it', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 7 }),
      fc.double({ min: 0, max: 0.999999, noNaN: true }),
      (attempts, r) => {
        const d = nextRetryDelay(schedule, attempts, { random: () => r });
        const base = schedule[attempts - 1] as number;
        assert.ok(d !== null && d >= base * 0.8 - 1 && d <= base * 1.2 + 1);
      },
    ),
  );
  assert.equal(nextRetryDelay(schedule, 8), null);
});

test('Retry-After is a floor, in seconds or as a date, capped at a day', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6000);
  assert.equal(parseRetryAfter('999999999'), 86_400_000);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(nextRetryDelay([100], 1, { retryAfterMs: 2000, random: () => 0.5 }), 2000);
});

test('classify: 2xx succeeds, 410 is gone, others retry until the attempts are spent', () => {
  const base = { attempts: 1, maxAttempts: 8, schedule, random: () => 0.5 };
  for (const s of [200, 201, 204, 299])
    assert.equal(classify({ ...base, statusCode: s }).kind, 'succeeded');
  assert.equal(classify({ ...base, statusCode: 410 }).kind, 'gone');
  for (const s of [null, 100, 301, 302, 400, 404, 429, 500, 503]) {
    assert.deepEqual(classify({ ...base, statusCode: s }), { kind: 'retry', delayMs: 5000 });
  }
  assert.equal(classify({ ...base, statusCode: 500, attempts: 8 }).kind, 'failed');
  // Retry-After only counts on 429 and 503.
  assert.deepEqual(classify({ ...base, statusCode: 429, retryAfter: '60' }), {
    kind: 'retry',
    delayMs: 60000,
  });
  assert.deepEqual(classify({ ...base, statusCode: 500, retryAfter: '60' }), {
    kind: 'retry',
    delayMs: 5000,
  });
});
