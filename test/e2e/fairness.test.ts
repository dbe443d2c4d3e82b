import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startHookline } from '../../cli/server.js';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { waitFor } from '../helpers/env.js';
import { startTestHookline, subscribe, type TestHookline } from '../helpers/hookline.js';
import { startReceiver } from '../helpers/receiver.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});
async function hookline(label: string, settings: Parameters<typeof startTestHookline>[1]) {
  const h = await startTestHookline(label, settings);
  cleanups.push(() => h.close());
  return h;
}
async function receiver(handler?: Parameters<typeof startReceiver>[0]) {
  const r = await startReceiver(handler);
  cleanups.push(() => r.close());
  return r;
}
/** Tracks how many requests a receiver holds at once. */
function concurrency() {
  let now = 0;
  let max = 0;
  return {
    enter() {
      now++;
      max = Math.max(max, now);
    },
    leave() {
      now--;
    },
    get max() {
      return max;
    },
    reset() {
      max = now;
    },
  };
}

async function publishMany(h: TestHookline, topic: string, n: number) {
  const res = await h.api('POST', '/v1/messages/batch', {
    messages: Array.from({ length: n }, (_, i) => ({ topic, data: { i } })),
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
}

test('a hanging endpoint holds at most its cap of slots; the others flow on', async () => {
  // Without the cap all 16 slots would hang for the full 15 s timeout.
  const h = await hookline('fair', {
    concurrency: '16',
    endpointConcurrency: '4',
    deliveryTimeout: '15s',
  });
  const c = concurrency();
  const hanging = await receiver((_req, _res) => {
    c.enter(); // never answers
  });
  const healthy = await receiver();
  await subscribe(h, 'slow.topic', hanging.url);
  await subscribe(h, 'fast.topic', healthy.url);
  await publishMany(h, 'slow.topic', 60);
  await waitFor('the hanging endpoint to fill its cap', () => c.max >= 4);
  const started = Date.now();
  await publishMany(h, 'fast.topic', 40);
  await waitFor('every fast event', () => healthy.events.length === 40, 15_000);
  const took = Date.now() - started;
  assert.ok(took < 10_000, `the healthy endpoint waited ${took} ms behind the hanging one`);
  assert.ok(c.max <= 4, `${c.max} requests were open at once to the hanging endpoint (cap 4)`);
});

test('circuit breaker: after consecutive failures, one probe at a time, further apart, until a 2xx', async () => {
  const h = await hookline('breaker', {
    endpointConcurrency: '8',
    breakerThreshold: '3',
    retrySchedule: Array(30).fill('100ms').join(','),
  });
  const c = concurrency();
  let healthy = false;
  const failedAt: number[] = [];
  const r = await receiver(async (_req, res) => {
    c.enter();
    await new Promise((done) => setTimeout(done, 150));
    c.leave();
    if (!healthy) failedAt.push(Date.now());
    res.writeHead(healthy ? 200 : 500);
    res.end();
  });
  const ep = await subscribe(h, 'breaker.topic', r.url);
  assert.deepEqual((await h.api('GET', `/v1/endpoints/${ep.id}`)).body.circuit, {
    state: 'closed',
  });
  await publishMany(h, 'breaker.topic', 12);
  // Eight attempts at once fail and open the circuit; then probes, 1 s and 2 s apart.
  await waitFor('the circuit to open and two probes to fail', () => failedAt.length >= 10, 15_000);
  const open = await waitFor('the endpoint to show its circuit open', async () => {
    const c = (await h.api('GET', `/v1/endpoints/${ep.id}`)).body.circuit;
    return c.state === 'open' && c;
  });
  assert.equal(open.dispatchers, 1);
  assert.ok(Date.parse(open.next_probe_at) > Date.parse(open.since));
  const gap = (failedAt[9] as number) - (failedAt[8] as number);
  assert.ok(gap >= 1900, `the second probe came ${gap} ms after the first: should be 2 s`);
  c.reset();
  await new Promise((done) => setTimeout(done, 1500));
  assert.ok(c.max <= 1, `${c.max} attempts at once while the circuit was open`);
  healthy = true;
  await waitFor(
    'every delivery to succeed once the endpoint recovers',
    async () =>
      (await h.api('GET', '/v1/deliveries?status=succeeded&limit=100')).body.data.length === 12,
    30_000,
  );
  await waitFor(
    'the circuit to show closed again',
    async () => (await h.api('GET', `/v1/endpoints/${ep.id}`)).body.circuit.state === 'closed',
  );
});

test('rate_limit holds across two dispatchers, and nothing limited is dropped', async () => {
  const h = await hookline('ratelimit', {});
  // A second dispatcher on the same namespace and database.
  const config = loadConfig(
    {
      ...Object.fromEntries(
        Object.entries({
          natsUrl: h.config.natsUrl.join(','),
          mongodbUrl: h.mongodbUrl,
          namespace: h.namespace,
          allowTargets: '127.0.0.0/8',
          logLevel: 'silent',
          retrySchedule: '100ms,100ms,100ms',
        }),
      ),
    },
    {},
  );
  const second = await startHookline(config, createLogger('silent'), {
    registry: false,
    dispatcher: true,
  });
  cleanups.push(() => second.close());
  const r = await receiver();
  await subscribe(h, 'limited.topic', r.url, { rate_limit: 5 });
  await waitFor(
    'both dispatchers to know the endpoint',
    () => second.dispatcher?.subscriptions.forTopic('limited.topic').length === 1,
  );
  const started = Date.now();
  await publishMany(h, 'limited.topic', 25);
  await waitFor('all 25', () => r.events.length === 25, 20_000);
  const took = r.events[24]!.at - started;
  assert.ok(took >= 3_500, `25 events at 5/s arrived in ${took} ms`);
  // No second holds more than two windows' worth (a fixed window's edge allows 2x briefly).
  const times = r.events.map((e) => e.at);
  for (const t of times) {
    const inWindow = times.filter((x) => x >= t && x < t + 1000).length;
    assert.ok(inWindow <= 10, `${inWindow} requests within one second`);
  }
});

test('an endpoint failing for HOOKLINE_DISABLE_AFTER is disabled and reported as hookline.endpoint.disabled', async () => {
  const h = await hookline('disable', {
    disableAfter: '1s',
    retrySchedule: Array(20).fill('300ms').join(','),
  });
  const dead = await receiver((_req, res) => {
    res.writeHead(500);
    res.end();
  });
  const watcher = await receiver();
  const ep = await subscribe(h, 'doomed.topic', dead.url);
  const w = await h.api('POST', '/v1/endpoints', {
    url: watcher.url,
    topics: ['hookline.endpoint.disabled'],
  });
  assert.equal(w.status, 201);
  await h.api('POST', '/v1/messages', { topic: 'doomed.topic', data: {} });
  await waitFor(
    'the endpoint to be disabled',
    async () => (await h.api('GET', `/v1/endpoints/${ep.id}`)).body.status === 'disabled',
    10_000,
  );
  const got = await h.api('GET', `/v1/endpoints/${ep.id}`);
  assert.match(got.body.disabled_reason, /failing continuously since/);
  assert.ok(got.body.failing_since);
  await waitFor('the operational event', () => watcher.events.length === 1);
  const event = JSON.parse(watcher.events[0]!.body);
  assert.equal(event.type, 'hookline.endpoint.disabled');
  assert.equal(event.data.endpoint_id, ep.id);
  const enabled = await h.api('POST', `/v1/endpoints/${ep.id}/enable`);
  assert.equal(enabled.body.status, 'active');
  assert.equal(enabled.body.failing_since, null);
});

test('fault injection: resets, slow bodies, 5xx and 3xx are failed attempts with the right records', async () => {
  const h = await hookline('faults', { deliveryTimeout: '1s', retrySchedule: '50ms' });
  const reset = await receiver((_req, res) => {
    res.socket?.destroy();
  });
  const slowBody = await receiver((_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial'); // and never the rest
  });
  const err5xx = await receiver((_req, res) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('bad gateway '.repeat(3000)); // 36 KB: only the first 16 KiB are kept
  });
  const redirect = await receiver((_req, res) => {
    res.writeHead(307, { location: 'http://127.0.0.1:9/' });
    res.end();
  });
  const results: Record<
    string,
    { status_code: number | null; error: string | null; response_body: string }[]
  > = {};
  for (const [name, r] of Object.entries({ reset, slowBody, err5xx, redirect })) {
    await subscribe(h, `f.${name}`, r.url);
    const msg = await h.api('POST', '/v1/messages', { topic: `f.${name}`, data: {} });
    const [d] = await waitFor(`${name} to fail`, async () => {
      const ds = (await h.api('GET', `/v1/messages/${msg.body.id}/deliveries`)).body.data;
      return ds[0]?.status === 'failed' && ds;
    });
    results[name] = (await h.api('GET', `/v1/deliveries/${d.id}/attempts`)).body.data;
    assert.equal(results[name]!.length, 2, `${name}: 1 + len(schedule) attempts`);
  }
  assert.equal(results.reset![0]!.status_code, null);
  assert.match(results.reset![0]!.error ?? '', /ECONNRESET|socket|closed|terminated/i);
  assert.equal(results.slowBody![0]!.status_code, null, 'a body that never ends is a timeout');
  assert.match(results.slowBody![0]!.error ?? '', /timeout/);
  assert.equal(results.err5xx![0]!.status_code, 502);
  assert.equal(results.err5xx![0]!.response_body.length, 16 * 1024);
  assert.equal(results.redirect![0]!.status_code, 307);
});

test('no leaked requests or timers after a burst of failing, hanging and resetting attempts', async () => {
  // The breaker would space the attempts out; this test is about what attempts leave behind.
  const h = await hookline('leaks', {
    deliveryTimeout: '500ms',
    retrySchedule: '50ms,50ms',
    breakerThreshold: '1000',
  });
  const reset = await receiver((_req, res) => {
    res.socket?.destroy();
  });
  const hang = await receiver(() => undefined);
  const fail = await receiver((_req, res) => {
    res.writeHead(500);
    res.end();
  });
  for (const [name, r] of Object.entries({ reset, hang, fail }))
    await subscribe(h, `leak.${name}`, r.url);
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  for (const name of ['reset', 'hang', 'fail']) await publishMany(h, `leak.${name}`, 20);
  await waitFor(
    'every delivery to fail',
    async () =>
      (await h.api('GET', '/v1/deliveries?status=failed&limit=1000')).body.data.length === 60,
    30_000,
    100,
  );
  await new Promise((r) => setTimeout(r, 300));
  const stats = h.running.agent.stats as Record<
    string,
    { running: number; pending: number; queued?: number }
  >;
  for (const [origin, s] of Object.entries(stats)) {
    assert.equal(s.running, 0, `${origin}: requests still running`);
    assert.equal(s.pending, 0, `${origin}: requests still pending`);
  }
  const after = timers();
  assert.ok(after <= before + 2, `timers: ${before} before the burst, ${after} after`);
});
