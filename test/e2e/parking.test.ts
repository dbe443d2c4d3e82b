import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { natsNames } from '../../core/nats.js';
import { NATS_URL, waitFor } from '../helpers/env.js';
import { startTestHookline, subscribe, type TestHookline } from '../helpers/hookline.js';
import { receiverPool } from '../helpers/receiver.js';

// Deliveries that wait at least HOOKLINE_PARK_AFTER leave the deliveries consumer for the
// parking stream and come back when due (dispatcher/parking.ts). Here the threshold is
// lowered so that a retry a second away is parked.

const receivers = receiverPool();
const opened: TestHookline[] = [];
let nc: NatsConnection | null = null;
after(async () => {
  for (const h of opened) await h.close();
  await receivers.closeAll();
  await nc?.close();
});

async function jsm(): Promise<JetStreamManager> {
  nc ??= await connect({ servers: NATS_URL });
  return nc.jetstreamManager();
}

/** Samples the number of parked deliveries every 50 ms until stopped; returns the largest. */
function watchParked(h: TestHookline) {
  const names = natsNames(h.namespace);
  let max = 0;
  let on = true;
  const done = (async () => {
    const m = await jsm();
    while (on) {
      const info = await m.streams.info(names.parkedStream);
      max = Math.max(max, info.state.messages);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      on = false;
      await done;
      return max;
    },
  };
}

async function publish(h: TestHookline, topic: string, data: unknown) {
  const res = await h.api('POST', '/v1/messages', { topic, data });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body as { id: string };
}

test('a retry a second away is parked, comes back when due and succeeds', async () => {
  const h = await startTestHookline('park', { parkAfter: '500ms', retrySchedule: '1s,1s' });
  opened.push(h);
  const r = await receivers.start((_req, res, n) => {
    res.writeHead(n < 3 ? 500 : 200);
    res.end();
  });
  await subscribe(h, 'park.retry', r.url);
  const watch = watchParked(h);
  const msg = await publish(h, 'park.retry', { n: 1 });
  // While it waits there, the console's overview counts it as parked.
  await waitFor(
    'the stats to count a parked delivery',
    async () => (await h.api('GET', '/v1/stats')).body.backlog.parked >= 1,
    5_000,
    20,
  );
  await waitFor('three attempts', () => r.events.length >= 3, 15_000);
  const parkedAtMost = await watch.stop();
  assert.ok(parkedAtMost >= 1, 'the delivery waited in the parking stream');

  const at = r.events.map((e) => e.at);
  for (let i = 1; i < at.length; i++) {
    const gap = (at[i] as number) - (at[i - 1] as number);
    assert.ok(gap >= 950, `attempt ${i + 1} came ${gap} ms after the one before: not before due`);
    assert.ok(gap < 4000, `attempt ${i + 1} came ${gap} ms after the one before: not much late`);
  }
  const list = await waitFor('the delivery to succeed', async () => {
    const res = await h.api('GET', `/v1/messages/${msg.id}/deliveries`);
    return res.body.data[0]?.status === 'succeeded' && res.body.data;
  });
  assert.equal(list[0].attempts, 3);
  const attempts = await h.api('GET', `/v1/deliveries/${list[0].id}/attempts`);
  assert.deepEqual(
    attempts.body.data.map((a: { status_code: number }) => a.status_code).sort(),
    [200, 500, 500],
  );
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(r.events.length, 3, 'no attempt after the success');

  // Nothing is left behind: the parking stream is empty and its per-second consumers gone.
  const names = natsNames(h.namespace);
  const m = await jsm();
  await waitFor('the parking consumers to be deleted', async () => {
    const consumers = await m.consumers.list(names.parkedStream).next();
    return consumers.length === 0;
  });
  assert.equal((await m.streams.info(names.parkedStream)).state.messages, 0);
});

test('deliveries refused by an open circuit are parked and all delivered once it closes', async () => {
  const h = await startTestHookline('parkopen', {
    parkAfter: '500ms',
    breakerThreshold: '2',
    retrySchedule: Array(20).fill('200ms').join(','),
  });
  opened.push(h);
  let healthyFrom = Number.POSITIVE_INFINITY;
  const r = await receivers.start((_req, res) => {
    res.writeHead(Date.now() >= healthyFrom ? 200 : 503);
    res.end();
  });
  await subscribe(h, 'park.open', r.url);
  const watch = watchParked(h);
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) ids.push((await publish(h, 'park.open', { i })).id);
  // The circuit opens after two failures; the deliveries it refuses wait a second or more.
  await waitFor(
    'refused deliveries to be parked',
    async () => {
      const info = await (await jsm()).streams.info(natsNames(h.namespace).parkedStream);
      return info.state.messages > 0;
    },
    10_000,
  );
  healthyFrom = Date.now();
  await waitFor(
    'every message to be delivered',
    () => {
      const ok = new Set(
        r.events.filter((e) => e.at >= healthyFrom).map((e) => e.headers['webhook-id']),
      );
      return ids.every((id) => ok.has(id));
    },
    40_000,
    100,
  );
  assert.ok((await watch.stop()) >= 1);
  for (const id of ids) {
    await waitFor(`the delivery of ${id} to be recorded as succeeded`, async () => {
      const res = await h.api('GET', `/v1/messages/${id}/deliveries`);
      return res.body.data[0]?.status === 'succeeded';
    });
  }
});
