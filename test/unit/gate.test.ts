import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EndpointGate } from '../../dispatcher/gate.js';

function gate(now: { t: number }) {
  return new EndpointGate({
    perEndpoint: 2,
    breakerThreshold: 3,
    busyDelayMs: 1000,
    openDelayMs: 5000,
    random: () => 0.5, // no jitter
    now: () => now.t,
  });
}

test('gate: a cap on attempts in flight per endpoint; others are not affected', () => {
  const g = gate({ t: 0 });
  assert.deepEqual(g.enter('a'), { ok: true, probe: false });
  assert.deepEqual(g.enter('a'), { ok: true, probe: false });
  assert.deepEqual(g.enter('a'), { ok: false, delayMs: 1000, reason: 'busy' });
  assert.deepEqual(g.enter('b'), { ok: true, probe: false });
  g.leave('a', false, 'success');
  assert.deepEqual(g.enter('a'), { ok: true, probe: false });
});

test('gate: refusals of a backlog come back further apart, up to a bound', () => {
  const now = { t: 0 };
  const g = gate(now);
  g.enter('a');
  g.enter('a');
  for (let i = 0; i < 200_000; i++) {
    const a = g.enter('a');
    assert.deepEqual(a, { ok: false, delayMs: 1000, reason: 'busy' }, 'a burst: the base delay');
  }
  now.t += 1000; // still refused a second later, and nothing got through: further apart
  const later = g.enter('a');
  assert.deepEqual(later, { ok: false, delayMs: 30_000, reason: 'busy' }, 'bounded');
  now.t += 5000; // a quiet spell: the base delay again
  assert.deepEqual(g.enter('a'), { ok: false, delayMs: 1000, reason: 'busy' });
});

test('gate: an endpoint that gets through as many as are refused keeps the base delay', () => {
  const now = { t: 0 };
  const g = gate(now);
  for (let i = 0; i < 40; i++) {
    g.enter('a');
    g.enter('a');
    assert.equal(g.enter('a').ok, false);
    g.leave('a', false, 'success');
    g.leave('a', false, 'success');
  }
  now.t += 1000;
  g.enter('a');
  g.enter('a');
  assert.deepEqual(g.enter('a'), { ok: false, delayMs: 1000, reason: 'busy' });
});

test('gate: after consecutive failures one probe at a time, further apart, until a success', () => {
  const now = { t: 0 };
  const g = gate(now);
  for (let i = 0; i < 3; i++) {
    const a = g.enter('a');
    assert.equal(a.ok, true);
    g.leave('a', false, 'failure');
  }
  assert.equal(g.isOpen('a'), true);
  assert.deepEqual(g.enter('a'), { ok: false, delayMs: 5000, reason: 'open' }, 'no probe yet');
  now.t += 1000; // the first probe a second after the circuit opened
  assert.deepEqual(g.enter('a'), { ok: true, probe: true });
  assert.deepEqual(g.enter('a'), { ok: false, delayMs: 5000, reason: 'open' });
  g.leave('a', true, 'failure');
  now.t += 1999;
  assert.equal(g.enter('a').ok, false, 'the next probe two seconds later, not before');
  now.t += 1;
  assert.deepEqual(g.enter('a'), { ok: true, probe: true });
  g.leave('a', true, 'failure');
  now.t += 4000; // four seconds after the second failed probe
  assert.deepEqual(g.enter('a'), { ok: true, probe: true });
  g.leave('a', true, 'failure');
  assert.deepEqual(
    g.enter('a'),
    { ok: false, delayMs: 8000, reason: 'open' },
    'a refusal waits until the next probe (8 s) when that is later than its own delay (5 s)',
  );
  now.t += 8000;
  assert.deepEqual(g.enter('a'), { ok: true, probe: true });
  g.leave('a', true, 'success');
  assert.equal(g.isOpen('a'), false);
  assert.deepEqual(g.enter('a'), { ok: true, probe: false });
});

test('gate: the backlog behind an open circuit is spread out, minutes away at most', () => {
  const now = { t: 0 };
  const g = gate(now);
  for (let i = 0; i < 3; i++) {
    g.enter('a');
    g.leave('a', false, 'failure');
  }
  now.t += 1000;
  assert.deepEqual(g.enter('a'), { ok: true, probe: true });
  const delays: number[] = [];
  for (let i = 0; i < 10_000; i++) {
    const a = g.enter('a');
    assert.equal(a.ok, false);
    if (!a.ok) delays.push(a.delayMs);
  }
  assert.equal(delays[0], 5000, 'the first ones: the base delay');
  assert.equal(delays[199], 10_000, 'the 200th: 200 × 50 ms');
  assert.equal(delays[9999], 300_000, 'the 10,000th: bounded at five minutes');
  for (let i = 1; i < delays.length; i++)
    assert.ok(
      (delays[i] as number) >= (delays[i - 1] as number),
      'never closer than the one before',
    );
});

test('nak delays of a second or more end on a whole second', async () => {
  const { onSecond } = await import('../../dispatcher/parking.js');
  assert.equal(onSecond(250, 10_100), 250, 'short delays are kept');
  assert.equal(onSecond(1000, 10_100), 1900);
  assert.equal(onSecond(4321, 10_000), 5000);
  assert.equal(onSecond(5000, 10_000), 5000, 'already on a second');
  for (const [d, now] of [
    [1234, 987_654_321],
    [300_000, 5],
  ] as const) {
    const out = onSecond(d, now);
    assert.ok(out >= d && out < d + 1000);
    assert.equal((now + out) % 1000, 0);
  }
});

test('gate: admit waits briefly for a slot of a busy endpoint, a bounded number at a time', async () => {
  const g = new EndpointGate({
    perEndpoint: 1,
    breakerThreshold: 3,
    busyDelayMs: 1000,
    openDelayMs: 5000,
    busyWaitMs: 200,
    random: () => 0.5,
  });
  assert.deepEqual(await g.admit('a'), { ok: true, probe: false });
  const waiting = g.admit('a'); // waits for the slot
  const refused = await g.admit('a'); // one waiter per slot: refused at once
  assert.deepEqual(refused, { ok: false, delayMs: 1000, reason: 'busy' });
  g.leave('a', false, 'success');
  assert.deepEqual(await waiting, { ok: true, probe: false }, 'handed the freed slot');
  const late = await g.admit('a'); // nobody leaves: refused after the wait
  assert.deepEqual(late, { ok: false, delayMs: 1000, reason: 'busy' });
  g.leave('a', false, 'success');
  assert.equal(g.inFlight('a'), 0);
});

test('gate: tryEnter takes a slot only for an endpoint with no trouble in sight', async () => {
  const g = new EndpointGate({
    perEndpoint: 2,
    breakerThreshold: 3,
    busyDelayMs: 1000,
    openDelayMs: 5000,
    busyWaitMs: 1000,
    random: () => 0.5,
  });
  assert.equal(g.tryEnter('a'), true, 'a fresh endpoint');
  assert.equal(g.inFlight('a'), 1);
  g.leave('a', false, 'failure');
  assert.equal(g.tryEnter('a'), false, 'a failure since the last success');
  assert.equal(g.inFlight('a'), 0, 'a refusal takes no slot');
  assert.deepEqual(g.enter('a'), { ok: true, probe: false }, 'the queue path still may');
  g.leave('a', false, 'success');
  assert.equal(g.tryEnter('a'), true, 'a success clears it');
  assert.equal(g.tryEnter('a'), true);
  assert.equal(g.tryEnter('a'), false, 'at the cap');
  // A delivery waiting in process for a slot comes before a first attempt from fan-out.
  const waiting = g.admit('a');
  g.leave('a', false, 'success');
  assert.deepEqual(await waiting, { ok: true, probe: false });
  assert.equal(g.tryEnter('a'), false, 'the freed slot went to the waiting delivery');
  assert.equal(g.tryEnter('b'), true, 'other endpoints are not affected');
});
