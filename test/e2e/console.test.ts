import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '../helpers/env.js';
import { apiClient, startTestHookline, type TestHookline } from '../helpers/hookline.js';
import { echoVerification, receiverPool } from '../helpers/receiver.js';
import { sweepConsoleData, sweepStats } from '../../registry/sweep.js';
import { backfillFailed } from '../../registry/migrate.js';

// What the console and the portal are built on: stats that equal the attempts made, bulk
// retry as a job, test events to one endpoint, the secret revealed, and list filters that
// page correctly.

let h: TestHookline;
const receivers = receiverPool();
before(async () => {
  // No circuit breaker: the failing endpoint below gets every attempt of its schedule at once.
  h = await startTestHookline('console', { breakerThreshold: '1000' });
  for (const name of ['console.a', 'console.b', 'console.c'])
    assert.equal((await h.api('POST', '/v1/topics', { name })).status, 201);
});
after(async () => {
  await h?.close();
  await receivers.closeAll();
});

interface Delivery {
  id: string;
  endpoint_id: string;
  status: string;
  attempts: number;
}

async function deliveriesOf(messageIds: string[]): Promise<Delivery[]> {
  const out: Delivery[] = [];
  for (const id of messageIds)
    out.push(...(await h.api('GET', `/v1/messages/${id}/deliveries?limit=1000`)).body.data);
  return out;
}

async function publish(topic: string, n: number): Promise<string[]> {
  const res = await h.api('POST', '/v1/messages/batch', {
    messages: Array.from({ length: n }, (_, i) => ({ topic, data: { i } })),
  });
  assert.equal(res.status, 202);
  return res.body.data.map((m: { id: string }) => m.id);
}

test('stats count every attempt, by endpoint and subscriber; bulk retry runs as a job', async () => {
  const ok = await receivers.start();
  const failing = await receivers.start((_req, res) => {
    res.writeHead(500);
    res.end('down');
  });
  const sub = (await h.api('POST', '/v1/subscribers', { name: 'stats-sub' })).body;
  const asSub = apiClient(h.url, sub.api_key);
  const good = (
    await h.api('POST', '/v1/endpoints', { url: `${ok.url}/ok`, topics: ['console.a'] })
  ).body.id as string;
  const bad = (
    await asSub('POST', '/v1/endpoints', { url: `${failing.url}/bad`, topics: ['console.a'] })
  ).body.id as string;

  const ids = await publish('console.a', 6);
  const ended = await waitFor(
    'every delivery to end',
    async () => {
      const list = await deliveriesOf(ids);
      return list.length === 12 && list.every((d) => d.status !== 'pending') ? list : null;
    },
    30_000,
    100,
  );
  const attemptsTo = (ep: string) =>
    ended.filter((d) => d.endpoint_id === ep).reduce((n, d) => n + d.attempts, 0);
  assert.equal(attemptsTo(good), 6);
  assert.equal(attemptsTo(bad), 24, 'four attempts each on the test schedule');
  assert.equal(failing.events.length, 24);

  const all = await waitFor('the stats to count every attempt', async () => {
    const s = (await h.api('GET', '/v1/stats')).body;
    return s.totals.succeeded === 6 && s.totals.failed === 24 && s.backlog.failed === 6 ? s : null;
  });
  assert.equal(all.bucket, '1m');
  // The last hour, widened to whole minutes: 61 buckets unless it began on a minute.
  assert.ok([60, 61].includes(all.series.length), `${all.series.length} buckets`);
  assert.equal(Date.parse(all.to) - Date.parse(all.from), all.series.length * 60_000);
  const summed = all.series.reduce(
    (t: { s: number; f: number }, r: { succeeded: number; failed: number }) => ({
      s: t.s + r.succeeded,
      f: t.f + r.failed,
    }),
    { s: 0, f: 0 },
  );
  assert.deepEqual(summed, { s: 6, f: 24 });
  for (const r of all.series)
    assert.equal(r.avg_ms === null, r.succeeded + r.failed === 0, 'avg_ms is null only when empty');
  assert.deepEqual(all.failing_endpoints, [
    {
      endpoint_id: bad,
      url: `${failing.url}/bad`,
      failed: 24,
      succeeded: 0,
      last_error: 'HTTP 500',
    },
  ]);
  assert.equal(all.backlog.pending, 0);
  assert.equal(all.backlog.parked, 0);

  const one = (await h.api('GET', `/v1/stats?endpoint_id=${good}&bucket=5m`)).body;
  assert.equal(one.bucket, '5m');
  assert.deepEqual(one.totals, { succeeded: 6, failed: 0 });
  assert.deepEqual(one.failing_endpoints, []);
  assert.equal(one.backlog.failed, 0);
  assert.equal(one.backlog.parked, null, "one endpoint's parked deliveries are not counted");
  const mine = (await asSub('GET', '/v1/stats?bucket=1h')).body;
  assert.deepEqual(mine.totals, { succeeded: 0, failed: 24 }, 'a subscriber counts only its own');
  assert.equal(mine.backlog.failed, 6);
  const day = (
    await h.api('GET', `/v1/stats?from=${new Date(Date.now() - 86_400_000).toISOString()}`)
  ).body;
  assert.equal(day.bucket, '5m', 'a day is shown in five-minute buckets');
  assert.deepEqual(day.totals, { succeeded: 6, failed: 24 });

  const tooMany = await h.api('GET', '/v1/stats?bucket=1m&from=2020-01-01T00:00:00Z');
  assert.equal(tooMany.status, 422);
  assert.match(tooMany.body.error.message, /at most 1500/);
  const reversed = await h.api(
    'GET',
    '/v1/stats?from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z',
  );
  assert.equal(reversed.status, 422);
  assert.equal((await h.api('GET', '/v1/stats?bucket=2m')).status, 422);

  // The receiver is back: retry every failed delivery of the endpoint, as a job.
  failing.handle(echoVerification);
  const job = await asSub('POST', '/v1/deliveries/retry', { status: 'failed', endpoint_id: bad });
  assert.equal(job.status, 202);
  assert.match(job.body.id, /^job_/);
  assert.equal(job.body.kind, 'retry');
  assert.equal(job.body.total, 6);
  const finished = await waitFor(
    'the job to finish',
    async () => {
      const j = (await asSub('GET', `/v1/jobs/${job.body.id}`)).body;
      return j.status === 'done' ? j : null;
    },
    30_000,
    100,
  );
  assert.equal(finished.done, 6);
  assert.equal(finished.errors, 0);
  assert.ok(finished.finished_at);
  await waitFor(
    'the retried deliveries to succeed',
    async () => {
      const list = (await deliveriesOf(ids)).filter((d) => d.endpoint_id === bad);
      return list.every((d) => d.status === 'succeeded' && d.attempts === 5);
    },
    30_000,
    100,
  );
  assert.equal(failing.events.length, 30, 'each retried delivery was attempted once more');
  const afterRetry = await waitFor('the stats to count the retries', async () => {
    const s = (await h.api('GET', '/v1/stats')).body;
    return s.totals.succeeded === 12 && s.backlog.failed === 0 ? s : null;
  });
  assert.equal(afterRetry.totals.failed, 24);
  // Nothing failed is left to retry.
  const again = await h.api('POST', '/v1/deliveries/retry', { status: 'failed' });
  assert.equal(again.body.total, 0);
  assert.equal(again.body.status, 'done');
});

test('a test event reaches that endpoint only', async () => {
  const first = await receivers.start();
  const second = await receivers.start();
  const e1 = (
    await h.api('POST', '/v1/endpoints', {
      url: `${first.url}/t`,
      topics: ['console.b', 'console.c'],
    })
  ).body.id as string;
  await h.api('POST', '/v1/endpoints', { url: `${second.url}/t`, topics: ['console.b'] });

  const res = await h.api('POST', `/v1/endpoints/${e1}/test`);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const { message, delivery } = res.body;
  assert.equal(message.topic, 'console.b', "the endpoint's first topic");
  assert.deepEqual(message.data, { test: true });
  assert.equal(delivery.endpoint_id, e1);
  assert.equal(delivery.message_id, message.id);
  assert.equal(delivery.status, 'pending');
  await waitFor('the test delivery to succeed', async () => {
    const d = (await h.api('GET', `/v1/deliveries/${delivery.id}`)).body;
    return d.status === 'succeeded';
  });
  const got = first.events.filter((r) => r.headers['webhook-id'] === message.id);
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]?.json.data, { test: true });
  assert.equal(got[0]?.json.type, 'console.b');
  // Never fanned out: one delivery, and the other subscriber of the topic got nothing.
  const fanned = (await h.api('GET', `/v1/messages/${message.id}/deliveries`)).body.data;
  assert.deepEqual(
    fanned.map((d: { id: string }) => d.id),
    [delivery.id],
  );
  assert.equal(second.events.length, 0);
  const attempts = (await h.api('GET', `/v1/deliveries/${delivery.id}/attempts`)).body.data;
  assert.equal(attempts.length, 1);
  assert.equal(attempts[0].status_code, 200);

  const custom = await h.api('POST', `/v1/endpoints/${e1}/test`, {
    topic: 'console.c',
    data: { order: 7 },
  });
  assert.equal(custom.status, 202);
  assert.equal(custom.body.message.topic, 'console.c');
  await waitFor('the custom test event', () =>
    first.events.some((r) => r.headers['webhook-id'] === custom.body.message.id),
  );
  const refused = await h.api('POST', `/v1/endpoints/${e1}/test`, { topic: 'console.a' });
  assert.equal(refused.status, 422);
  assert.match(refused.body.error.message, /does not subscribe to "console.a"/);
  assert.equal((await h.api('POST', `/v1/endpoints/${e1}/disable`)).status, 200);
  assert.equal((await h.api('POST', `/v1/endpoints/${e1}/test`)).status, 409);
});

test('the secret is revealed to its owner, with the previous one during a rotation', async () => {
  const r = await receivers.start();
  const sub = (await h.api('POST', '/v1/subscribers', { name: 'secret-sub' })).body;
  const asSub = apiClient(h.url, sub.api_key);
  const created = await asSub('POST', '/v1/endpoints', {
    url: `${r.url}/s`,
    topics: ['console.a'],
  });
  const shown = await asSub('GET', `/v1/endpoints/${created.body.id}/secret`);
  assert.equal(shown.status, 200);
  assert.deepEqual(shown.body, { secret: created.body.secret, previous: [] });
  assert.equal(shown.headers.get('cache-control'), 'no-store');
  const rotated = await asSub('POST', `/v1/endpoints/${created.body.id}/rotate-secret`);
  const after = (await h.api('GET', `/v1/endpoints/${created.body.id}/secret`)).body;
  assert.equal(after.secret, rotated.body.secret);
  assert.equal(after.previous.length, 1);
  assert.equal(after.previous[0].secret, created.body.secret);
  const left = Date.parse(after.previous[0].expires_at) - Date.now();
  assert.ok(left > 23 * 3600_000 && left <= 24 * 3600_000);
});

test('list filters, and cursors that page through a filtered list', async () => {
  const r = await receivers.start();
  const sub = (await h.api('POST', '/v1/subscribers', { name: 'filter-sub' })).body;
  const asSub = apiClient(h.url, sub.api_key);
  const upper = (
    await asSub('POST', '/v1/endpoints', { url: `${r.url}/Orders-Hook`, topics: ['console.c'] })
  ).body.id as string;
  const plain = (
    await h.api('POST', '/v1/endpoints', { url: `${r.url}/plain`, topics: ['console.a'] })
  ).body.id as string;
  await h.api('POST', `/v1/endpoints/${plain}/disable`);
  const idsOf = (list: Array<{ id: string }>) => list.map((x) => x.id);

  assert.deepEqual(idsOf((await h.api('GET', '/v1/endpoints?url=orders-HOOK')).body.data), [upper]);
  assert.deepEqual(
    idsOf((await h.api('GET', '/v1/endpoints?url=.*')).body.data),
    [],
    'the url filter is a substring, not a pattern',
  );
  assert.deepEqual(idsOf((await h.api('GET', `/v1/endpoints?owner_id=${sub.id}`)).body.data), [
    upper,
  ]);
  assert.ok(
    idsOf((await h.api('GET', '/v1/endpoints?status=disabled&limit=1000')).body.data).includes(
      plain,
    ),
  );
  assert.ok(
    (await h.api('GET', '/v1/endpoints?status=disabled&limit=1000')).body.data.every(
      (e: { status: string }) => e.status === 'disabled',
    ),
  );
  assert.deepEqual(idsOf((await asSub('GET', '/v1/endpoints?topic=console.c')).body.data), [upper]);
  assert.equal((await asSub('GET', `/v1/endpoints?owner_id=${sub.id}`)).status, 403);

  const start = new Date().toISOString();
  const keyed = await h.api('POST', '/v1/messages', {
    topic: 'console.c',
    data: 1,
    idempotency_key: 'filter-key-1',
  });
  const five = await publish('console.c', 5);
  const all = [keyed.body.id, ...five];
  assert.deepEqual(
    idsOf((await h.api('GET', '/v1/messages?idempotency_key=filter-key-1')).body.data),
    [keyed.body.id],
  );
  // Page through a filtered list two at a time: every message once, newest first.
  const paged: string[] = [];
  let cursor = '';
  for (let guard = 0; guard < 10; guard++) {
    const page = (
      await h.api(
        'GET',
        `/v1/messages?topic=console.c&from=${start}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      )
    ).body;
    paged.push(...idsOf(page.data));
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  assert.deepEqual([...paged].sort(), [...all].sort());
  assert.equal(new Set(paged).size, paged.length);
  assert.deepEqual(
    (await h.api('GET', `/v1/messages?topic=console.c&to=${start}`)).body.data.filter(
      (m: { id: string }) => all.includes(m.id),
    ),
    [],
  );
  assert.equal((await h.api('GET', '/v1/messages?from=yesterday')).status, 422);

  await waitFor('the deliveries to succeed', async () => {
    const list = (await h.api('GET', `/v1/deliveries?topic=console.c&from=${start}&limit=1000`))
      .body.data;
    return list.length === 6 && list.every((d: Delivery) => d.status === 'succeeded');
  });
  const pagedDeliveries: string[] = [];
  cursor = '';
  for (let guard = 0; guard < 10; guard++) {
    const page = (
      await asSub(
        'GET',
        `/v1/deliveries?topic=console.c&status=succeeded&from=${start}&limit=4${cursor ? `&cursor=${cursor}` : ''}`,
      )
    ).body;
    pagedDeliveries.push(...idsOf(page.data));
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  assert.equal(pagedDeliveries.length, 6);
  assert.equal(new Set(pagedDeliveries).size, 6);
  assert.deepEqual(
    (await h.api('GET', `/v1/deliveries?topic=console.c&status=failed&from=${start}`)).body.data,
    [],
  );
  assert.equal(
    (await h.api('GET', `/v1/deliveries?status=succeeded&endpoint_id=${upper}&from=${start}`)).body
      .data.length,
    6,
  );
});

test('deliveries that failed before `failed` existed are indexed once, at start', async () => {
  const down = await receivers.start((_req, res) => {
    res.writeHead(503);
    res.end();
  });
  const ep = (
    await h.api('POST', '/v1/endpoints', { url: `${down.url}/old`, topics: ['console.b'] })
  ).body.id as string;
  await h.api('POST', '/v1/messages', { topic: 'console.b', data: 'old' });
  const { mongo } = h.running;
  await waitFor('the delivery to fail', async () => {
    const list = (await h.api('GET', `/v1/deliveries?endpoint_id=${ep}`)).body.data;
    return list[0]?.status === 'failed';
  });
  await waitFor(
    'its entry in failed',
    async () => (await mongo.col.failed.countDocuments({ endpoint_id: ep })) === 1,
  );
  // As an earlier version left it: the failed delivery, and no entry.
  await mongo.col.failed.deleteMany({});
  await mongo.col.settings.deleteOne({ _id: 'migrated_failed_index_v1' });
  assert.ok(((await backfillFailed(mongo)) ?? 0) >= 1);
  const entry = await mongo.col.failed.findOne({ endpoint_id: ep });
  assert.equal(entry?.topic, 'console.b');
  assert.equal(await backfillFailed(mongo), null, 'once per database');
});

// Last: it sweeps this file's stats away.
test('the sweep removes stats buckets by id, and the writers whose buckets are all gone', async () => {
  const { mongo } = h.running;
  // Earlier tests' failing endpoints are still being retried, and each attempt is counted
  // into a bucket written within a second: the dispatcher stops (and writes its last) first.
  await h.running.dispatcher?.close();
  assert.ok((await mongo.col.stats.countDocuments({})) > 0);
  // Nothing is old enough yet.
  assert.equal(await sweepStats(mongo, new Date(Date.now() - 86_400_000)), 0);
  const removed = await sweepStats(mongo, new Date(Date.now() + 2 * 86_400_000));
  assert.ok(removed > 0);
  assert.equal(await mongo.col.stats.countDocuments({}), 0);
  assert.equal(await mongo.col.statsWriters.countDocuments({}), 0);
  const swept = await sweepConsoleData({ mongo, config: h.config });
  assert.equal(swept.stats, 0);
});
