import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { verifySignature } from '../../core/signing.js';
import { waitFor } from '../helpers/env.js';
import { startTestHookline, subscribe, type TestHookline } from '../helpers/hookline.js';
import { receiverPool } from '../helpers/receiver.js';

// One `hookline all` for the file; each test uses topics and receivers of its own.
let h: TestHookline;
const receivers = receiverPool();
const receiver = receivers.start;

before(async () => {
  h = await startTestHookline('delivery');
});
after(async () => {
  await h?.close();
  await receivers.closeAll();
});

async function publish(topic: string, data: unknown, headers: Record<string, string> = {}) {
  const res = await h.api('POST', '/v1/messages', { topic, data }, headers);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body as { id: string; topic: string; created_at: string };
}

async function deliveriesOf(messageId: string) {
  const res = await h.api('GET', `/v1/messages/${messageId}/deliveries`);
  assert.equal(res.status, 200);
  return res.body.data as Array<{
    id: string;
    status: string;
    attempts: number;
    endpoint_id: string;
  }>;
}

async function attemptsOf(deliveryId: string) {
  const res = await h.api('GET', `/v1/deliveries/${deliveryId}/attempts`);
  assert.equal(res.status, 200);
  return res.body.data as Array<{
    status_code: number | null;
    error: string | null;
    duration_ms: number;
    response_body: string;
  }>;
}

test('fan-out reaches only subscribed endpoints, signed with the secret given at creation', async () => {
  const a = await receiver();
  const b = await receiver();
  const other = await receiver();
  const epA = await subscribe(h, 'book.created', `${a.url}/hook`);
  const epB = await subscribe(h, 'book.created', `${b.url}/hook`);
  await subscribe(h, 'book.deleted', `${other.url}/hook`);
  assert.equal(epA.status, 'active');
  assert.match(epA.secret, /^whsec_/);

  const msg = await publish('book.created', { id: 1, title: 'Dune' });
  await waitFor(
    'both subscribers to receive the event',
    () => a.events.length === 1 && b.events.length === 1,
  );

  for (const [r, ep] of [
    [a, epA],
    [b, epB],
  ] as const) {
    const got = r.events[0]!;
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['webhook-id'], msg.id);
    assert.deepEqual(JSON.parse(got.body), {
      type: 'book.created',
      timestamp: msg.created_at,
      data: { id: 1, title: 'Dune' },
    });
    verifySignature(
      ep.secret,
      {
        id: got.headers['webhook-id'] as string,
        timestamp: got.headers['webhook-timestamp'] as string,
        signature: got.headers['webhook-signature'] as string,
      },
      got.body,
    );
    // The other endpoint's secret does not verify it.
    const wrong = ep === epA ? epB.secret : epA.secret;
    assert.throws(() =>
      verifySignature(
        wrong,
        {
          id: got.headers['webhook-id'] as string,
          timestamp: got.headers['webhook-timestamp'] as string,
          signature: got.headers['webhook-signature'] as string,
        },
        got.body,
      ),
    );
  }
  const ds = await waitFor('deliveries recorded as succeeded', async () => {
    const list = await deliveriesOf(msg.id);
    return (
      list.length === 2 && list.every((d) => d.status === 'succeeded' && d.attempts === 1) && list
    );
  });
  assert.deepEqual(ds.map((d) => d.endpoint_id).sort(), [epA.id, epB.id].sort());
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(other.events.length, 0, 'an endpoint of another topic receives nothing');
  assert.equal(a.events.length, 1, 'a succeeded delivery is not sent again');
});

test('a flaky receiver succeeds on the third attempt, with three attempts recorded', async () => {
  const r = await receiver((_req, res, n) => {
    res.writeHead(n < 3 ? 500 : 200);
    res.end(n < 3 ? `boom ${n}` : 'ok');
  });
  await subscribe(h, 'flaky.topic', r.url);
  const msg = await publish('flaky.topic', { n: 1 });
  const [d] = await waitFor('the delivery to succeed', async () => {
    const list = await deliveriesOf(msg.id);
    return list[0]?.status === 'succeeded' && list;
  });
  assert.equal(d!.attempts, 3);
  const attempts = await attemptsOf(d!.id);
  assert.equal(attempts.length, 3);
  // Newest first.
  assert.deepEqual(
    attempts.map((a) => a.status_code),
    [200, 500, 500],
  );
  assert.deepEqual(
    attempts.map((a) => a.response_body),
    ['ok', 'boom 2', 'boom 1'],
  );
  assert.ok(attempts.every((a) => a.duration_ms >= 0));
  assert.equal(r.events.length, 3);
  assert.ok(
    r.events.every((e) => e.headers['webhook-id'] === msg.id),
    'the id is the same on every retry',
  );
});

test('an always-failing receiver is tried exactly 1 + len(schedule) times, then failed', async () => {
  const r = await receiver((_req, res) => {
    res.writeHead(503);
    res.end('down');
  });
  await subscribe(h, 'failing.topic', r.url);
  const msg = await publish('failing.topic', {});
  const [d] = await waitFor('the delivery to fail', async () => {
    const list = await deliveriesOf(msg.id);
    return list[0]?.status === 'failed' && list;
  });
  assert.equal(d!.attempts, 4); // schedule 100ms,100ms,100ms
  assert.equal((await attemptsOf(d!.id)).length, 4);
  await new Promise((res) => setTimeout(res, 500));
  assert.equal(r.events.length, 4, 'no attempt after the schedule is spent');
  const failed = await h.api('GET', '/v1/deliveries?status=failed');
  assert.ok(failed.body.data.some((x: { id: string }) => x.id === d!.id));
});

test('redirects are never followed', async () => {
  const target = await receiver();
  const r = await receiver((_req, res) => {
    res.writeHead(302, { location: `${target.url}/elsewhere` });
    res.end();
  });
  await subscribe(h, 'redirect.topic', r.url);
  const msg = await publish('redirect.topic', {});
  const [d] = await waitFor('the delivery to fail', async () => {
    const list = await deliveriesOf(msg.id);
    return list[0]?.status === 'failed' && list;
  });
  const attempts = await attemptsOf(d!.id);
  assert.ok(attempts.every((a) => a.status_code === 302));
  assert.equal(target.events.length, 0);
});

test('Retry-After on 429 is honoured', async () => {
  const r = await receiver((_req, res, n) => {
    if (n === 1) {
      res.writeHead(429, { 'retry-after': '1' });
      res.end();
    } else {
      res.writeHead(204);
      res.end();
    }
  });
  await subscribe(h, 'limited.topic', r.url);
  await publish('limited.topic', {});
  await waitFor('two attempts', () => r.events.length === 2, 10_000);
  const gap = r.events[1]!.at - r.events[0]!.at;
  assert.ok(gap >= 950, `the retry came ${gap} ms after a Retry-After of 1 s`);
});

test('a 410 disables the endpoint', async () => {
  const r = await receiver((_req, res) => {
    res.writeHead(410);
    res.end();
  });
  const ep = await subscribe(h, 'gone.topic', r.url);
  const msg = await publish('gone.topic', {});
  await waitFor('the endpoint to be disabled', async () => {
    const e = await h.api('GET', `/v1/endpoints/${ep.id}`);
    return e.body.status === 'disabled' && e;
  });
  const [d] = await deliveriesOf(msg.id);
  assert.equal(d!.status, 'failed');
  assert.equal(d!.attempts, 1);
  // A disabled endpoint gets no new deliveries; enabling it restores them.
  await publish('gone.topic', {});
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(r.events.length, 1);
  r.handle((_req, res) => {
    res.writeHead(200);
    res.end();
  });
  const enabled = await h.api('POST', `/v1/endpoints/${ep.id}/enable`);
  assert.equal(enabled.body.status, 'active');
  await waitFor('the endpoint to be active in the dispatcher', async () => {
    await publish('gone.topic', { again: true });
    return r.events.some((e) => JSON.parse(e.body).data.again === true);
  });
});

test('a receiver that hangs past the timeout is a failed attempt', async () => {
  const r = await receiver((_req, res, n) => {
    if (n === 1) return; // never answers
    res.writeHead(200);
    res.end();
  });
  await subscribe(h, 'slow.topic', r.url);
  const msg = await publish('slow.topic', {});
  const [d] = await waitFor(
    'the delivery to succeed after a timeout',
    async () => {
      const list = await deliveriesOf(msg.id);
      return list[0]?.status === 'succeeded' && list;
    },
    15_000,
  );
  const attempts = await attemptsOf(d!.id);
  assert.equal(attempts.length, 2);
  assert.match(attempts[1]!.error ?? '', /timeout/);
  assert.equal(attempts[1]!.status_code, null);
});

test('idempotent publish: the same key answers the first message and publishes nothing', async () => {
  const r = await receiver();
  await subscribe(h, 'idem.topic', r.url);
  const first = await publish('idem.topic', { v: 1 }, { 'idempotency-key': 'order-42' });
  const second = await publish('idem.topic', { v: 1 }, { 'idempotency-key': 'order-42' });
  assert.equal(second.id, first.id);
  const third = await h.api('POST', '/v1/messages', {
    topic: 'idem.topic',
    data: { v: 1 },
    idempotency_key: 'order-42',
  });
  assert.equal(third.status, 202);
  assert.equal(third.body.id, first.id);
  const other = await publish('idem.topic', { v: 2 }, { 'idempotency-key': 'order-43' });
  assert.notEqual(other.id, first.id);
  await waitFor('two events', () => r.events.length === 2);
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(r.events.length, 2);
  const list = await h.api('GET', '/v1/messages?topic=idem.topic');
  assert.equal(list.body.data.length, 2);

  // After 24 hours a key is free again.
  const { MongoClient } = await import('mongodb');
  const client = await MongoClient.connect(h.mongodbUrl);
  try {
    await client
      .db()
      .collection('idempotency')
      .updateOne(
        { _id: 'order-42' as never },
        { $set: { created_at: new Date(Date.now() - 25 * 3600 * 1000) } },
      );
  } finally {
    await client.close();
  }
  const later = await publish('idem.topic', { v: 1 }, { 'idempotency-key': 'order-42' });
  assert.notEqual(later.id, first.id);
  await waitFor('the third event', () => r.events.length === 3);
});

test('an endpoint registered while running receives the next event', async () => {
  await h.api('POST', '/v1/topics', { name: 'late.topic' });
  await publish('late.topic', { before: true });
  const r = await receiver();
  await subscribe(h, 'late.topic', r.url);
  await publish('late.topic', { after: true });
  await waitFor('the next event', () => r.events.length === 1);
  assert.deepEqual(JSON.parse(r.events[0]!.body).data, { after: true });
  // The dispatcher's cache holds every endpoint the registry has.
  const endpoints = (await h.api('GET', '/v1/endpoints?limit=1000')).body.data.length;
  const text = await (await fetch(`${h.url}/metrics`)).text();
  assert.match(text, new RegExp(`^hookline_subscribed_endpoints ${endpoints}$`, 'm'));
});

test('a burst of new endpoints is applied together, and the next event reaches them all', async () => {
  const r = await receiver();
  await h.api('POST', '/v1/topics', { name: 'burst.topic' });
  await Promise.all(
    Array.from({ length: 150 }, () =>
      h.api('POST', '/v1/endpoints', { url: r.url, topics: ['burst.topic'] }),
    ),
  );
  const endpoints = (await h.api('GET', '/v1/endpoints?limit=1000')).body.data.length;
  await waitFor('every endpoint applied', async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    return new RegExp(`^hookline_subscribed_endpoints ${endpoints}$`, 'm').test(text);
  });
  const counters = async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    return ['stored', 'created'].map((c) =>
      Number(new RegExp(`^hookline_deliveries_${c}_total (\\d+)$`, 'm').exec(text)?.[1] ?? -1),
    );
  };
  const [storedBefore, createdBefore] = await counters();
  await publish('burst.topic', { burst: true });
  await waitFor('150 deliveries', () => r.events.length === 150);
  // Counted once stored in MongoDB, and once queued on JetStream too.
  assert.deepEqual(await counters(), [(storedBefore ?? 0) + 150, (createdBefore ?? 0) + 150]);
});

test('a message with no subscriber is recorded', async () => {
  await h.api('POST', '/v1/topics', { name: 'lonely.topic' });
  const msg = await publish('lonely.topic', { alone: true });
  const got = await h.api('GET', `/v1/messages/${msg.id}`);
  assert.equal(got.status, 200);
  assert.deepEqual(got.body.data, { alone: true });
  assert.deepEqual((await h.api('GET', `/v1/messages/${msg.id}/deliveries`)).body.data, []);
});

test('rotate-secret: both secrets sign until the old one expires', async () => {
  const r = await receiver();
  const ep = await subscribe(h, 'rotate.topic', r.url);
  const rotated = await h.api('POST', `/v1/endpoints/${ep.id}/rotate-secret`);
  assert.equal(rotated.status, 200);
  assert.notEqual(rotated.body.secret, ep.secret);
  await waitFor('the dispatcher to see the new secret', async () => {
    await publish('rotate.topic', {});
    await new Promise((res) => setTimeout(res, 100));
    const last = r.events[r.events.length - 1];
    return last && String(last.headers['webhook-signature']).split(' ').length === 2;
  });
  const got = r.events[r.events.length - 1]!;
  const headers = {
    id: got.headers['webhook-id'] as string,
    timestamp: got.headers['webhook-timestamp'] as string,
    signature: got.headers['webhook-signature'] as string,
  };
  verifySignature(ep.secret, headers, got.body);
  verifySignature(rotated.body.secret, headers, got.body);
});

test('a manual retry gives a failed delivery one more attempt', async () => {
  const r = await receiver((_req, res) => {
    res.writeHead(500);
    res.end();
  });
  await subscribe(h, 'manual.topic', r.url);
  const msg = await publish('manual.topic', {});
  const [d] = await waitFor('the delivery to fail', async () => {
    const list = await deliveriesOf(msg.id);
    return list[0]?.status === 'failed' && list;
  });
  const pendingRetry = await h.api('POST', `/v1/deliveries/${d!.id}/retry`);
  assert.equal(pendingRetry.status, 202);
  r.handle((_req, res) => {
    res.writeHead(200);
    res.end();
  });
  // The retry may have been attempted before the handler changed; retry until it lands.
  await waitFor('the retried delivery to succeed', async () => {
    const cur = (await h.api('GET', `/v1/deliveries/${d!.id}`)).body;
    if (cur.status === 'failed') await h.api('POST', `/v1/deliveries/${d!.id}/retry`);
    return cur.status === 'succeeded';
  });
  const again = await h.api('GET', `/v1/deliveries/${d!.id}`);
  assert.ok(again.body.attempts >= 5);
  // Every attempt of every generation is listed once, newest (the success) first, whether
  // read in one page or one by one.
  const all = (await h.api('GET', `/v1/deliveries/${d!.id}/attempts?limit=100`)).body.data;
  assert.equal(all.length, again.body.attempts);
  assert.equal(all[0].status_code, 200);
  assert.ok(all.slice(1).every((a: { status_code: number }) => a.status_code === 500));
  const walked: string[] = [];
  let cursor = '';
  do {
    const page = await h.api(
      'GET',
      `/v1/deliveries/${d!.id}/attempts?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
    );
    walked.push(...page.body.data.map((a: { id: string }) => a.id));
    cursor = page.body.next_cursor ?? '';
  } while (cursor);
  assert.deepEqual(
    walked,
    all.map((a: { id: string }) => a.id),
  );
  // Lists by status see the delivery as it stands.
  const byStatus = async (status: string) =>
    (await h.api('GET', `/v1/deliveries?status=${status}&limit=1000`)).body.data.map(
      (x: { id: string }) => x.id,
    );
  assert.ok((await byStatus('succeeded')).includes(d!.id));
  assert.ok(!(await byStatus('failed')).includes(d!.id));
  assert.ok(!(await byStatus('pending')).includes(d!.id));
  // A succeeded delivery is never sent again, not even on request.
  const resend = await h.api('POST', `/v1/deliveries/${d!.id}/retry`);
  assert.equal(resend.status, 409);
  // A pending delivery is not retried twice at once.
  const r2 = await receiver((_req, res) => {
    res.writeHead(500);
    res.end();
  });
  await subscribe(h, 'manual2.topic', r2.url);
  await h.restart({ retrySchedule: '1h' });
  const msg2 = await publish('manual2.topic', {});
  const [d2] = await waitFor('one attempt', async () => {
    const list = await deliveriesOf(msg2.id);
    return list[0]?.attempts === 1 && list;
  });
  assert.equal((await h.api('POST', `/v1/deliveries/${d2!.id}/retry`)).status, 409);
  await h.restart();
});

test('an event published twice under different JetStream ids is recorded and delivered once', async () => {
  const r = await receiver();
  await subscribe(h, 'dup.topic', r.url);
  const { headers: natsHeaders } = await import('nats');
  const { eventBody } = await import('../../core/event.js');
  const js = h.running.nc.jetstream();
  const body = eventBody('dup.topic', new Date(), { once: true });
  // Two publishes of one message id under different JetStream ids: what a sidecar that
  // re-reads a line long after the two-minute window produces.
  for (const natsId of ['first-copy', 'second-copy']) {
    const hd = natsHeaders();
    hd.set('Hookline-Message', 'msg_DUPLICATE0000000000000000');
    await js.publish(`${h.namespace}.events.dup.topic`, Buffer.from(body), {
      msgID: natsId,
      headers: hd,
    });
  }
  await waitFor('the event', () => r.events.length === 1);
  await new Promise((res) => setTimeout(res, 500));
  assert.equal(r.events.length, 1);
  const msg = await h.api('GET', '/v1/messages/msg_DUPLICATE0000000000000000');
  assert.equal(msg.status, 200, 'an event that did not come through the API is recorded too');
  assert.deepEqual(msg.body.data, { once: true });
});

test('retention: old messages, finished deliveries and attempts are swept; pending ones stay', async () => {
  const { sweepRetention } = await import('../../registry/publish.js');
  const { loadConfig } = await import('../../core/config.js');
  const ok = await receiver();
  const stuck = await receiver((_req, res) => {
    res.writeHead(500);
    res.end();
  });
  await subscribe(h, 'old.topic', ok.url);
  await subscribe(h, 'old.topic', stuck.url);
  await h.restart({ retrySchedule: '1h' });
  const msg = await publish('old.topic', { old: true });
  await waitFor('one succeeded and one waiting', async () => {
    const ds = await deliveriesOf(msg.id);
    return (
      ds.length === 2 &&
      ds.some((d) => d.status === 'succeeded') &&
      ds.some((d) => d.attempts === 1 && d.status === 'pending')
    );
  });
  await new Promise((res) => setTimeout(res, 300));
  const removed = await sweepRetention({
    mongo: h.running.mongo,
    config: loadConfig({ retention: '200ms' }, {}),
  });
  assert.ok(
    removed.messages >= 1 && removed.deliveries >= 1 && removed.attempts >= 1,
    JSON.stringify(removed),
  );
  assert.equal((await h.api('GET', `/v1/messages/${msg.id}`)).status, 404);
  const left = (await h.api('GET', '/v1/deliveries?status=pending&limit=1000')).body.data.filter(
    (d: { message_id: string }) => d.message_id === msg.id,
  );
  assert.equal(left.length, 1, 'the pending delivery is kept');
  await h.restart();
});
