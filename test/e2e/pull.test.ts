import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { ensureStreams, natsNames } from '../../core/nats.js';
import { ackWaitFor } from '../../dispatcher/index.js';
import { NATS_URL, waitFor } from '../helpers/env.js';
import { startTestHookline, subscribe, type TestHookline } from '../helpers/hookline.js';
import { receiverPool } from '../helpers/receiver.js';

// A dispatcher's pull that the server ends under it (dispatcher/pull.ts): here both
// durable consumers are deleted and created again while the dispatcher waits on them, the
// way a cluster's leader change ends a pull request. The next messages must come within a
// few seconds, not after nats.js's own recovery (two missed heartbeats and a back-off,
// 30 s and more). On one server, so it runs on every NATS the suite runs on.

const receivers = receiverPool();
const opened: TestHookline[] = [];
let nc: NatsConnection | null = null;
after(async () => {
  for (const h of opened) await h.close();
  await receivers.closeAll();
  await nc?.close();
});

test('a pull ended by the server is started again: deliveries go on within seconds', async () => {
  const h = await startTestHookline('pull');
  opened.push(h);
  const r = await receivers.start();
  // A rate limit sends every delivery through the deliveries stream (no direct attempt),
  // so that both consumers are needed for a message to arrive.
  await subscribe(h, 'pull.topic', `${r.url}/hook`, { rate_limit: 1000 });
  const publish = async (i: number) => {
    const res = await h.api('POST', '/v1/messages', { topic: 'pull.topic', data: { i } });
    assert.equal(res.status, 202);
  };
  await publish(1);
  await waitFor('the first delivery', () => r.events.length === 1, 10_000);
  // Both loops are waiting on their pull request now.
  await new Promise((done) => setTimeout(done, 200));

  nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  const names = natsNames(h.namespace);
  await jsm.consumers.delete(names.eventsStream, names.fanoutConsumer);
  await jsm.consumers.delete(names.deliveriesStream, names.deliverConsumer);
  await ensureStreams(jsm, names, {
    ackWaitMs: ackWaitFor(h.config.deliveryTimeout),
    maxAckPendingDeliveries: 200_000,
  });

  const t0 = Date.now();
  await publish(2);
  await waitFor('the delivery after the consumers came back', () => r.events.length === 2, 10_000);
  const took = Date.now() - t0;
  const metrics = await fetch(`${h.url}/metrics?name=hookline_consumer_pull_restarts_total`).then(
    (res) => res.text(),
  );
  const restarts = metrics
    .split('\n')
    .filter((l) => l.startsWith('hookline_consumer_pull_restarts_total{'));
  console.log(
    `pull test: delivered ${took} ms after the consumers came back; ${restarts.join('; ')}`,
  );
  assert.ok(
    restarts.some((l) => l.includes('consumer="fanout"')) &&
      restarts.some((l) => l.includes('consumer="deliver"')),
    'both pulls were started again',
  );
});
