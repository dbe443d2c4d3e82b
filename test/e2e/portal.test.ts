import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MongoClient } from 'mongodb';
import { waitFor } from '../helpers/env.js';
import { apiClient, startTestHookline, type TestHookline } from '../helpers/hookline.js';
import { receiverPool } from '../helpers/receiver.js';
import { sweepPortal } from '../../registry/portal.js';

// Portal links and sessions: a code works once and expires; a session is exactly its
// subscriber (never another's endpoints, deliveries, stats or jobs); it ends when asked,
// when it expires, and when the subscriber is deleted.

let h: TestHookline;
const receivers = receiverPool();
before(async () => {
  h = await startTestHookline('portal');
  await h.api('POST', '/v1/topics', { name: 'portal.topic', description: 'for the portal' });
});
after(async () => {
  await h?.close();
  await receivers.closeAll();
});

const codeOf = (url: string) => new URL(url).hash.replace(/^#code=/, '');

async function subscriber(name: string) {
  const res = await h.api('POST', '/v1/subscribers', { name });
  assert.equal(res.status, 201);
  return res.body as { id: string; api_key: string };
}

async function portalSession(subscriberId: string) {
  const link = await h.api('POST', `/v1/subscribers/${subscriberId}/portal-links`);
  assert.equal(link.status, 201, JSON.stringify(link.body));
  const res = await apiClient(h.url, null)('POST', '/v1/portal/sessions', {
    code: codeOf(link.body.url),
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { token: string; expires_at: string; subscriber: { id: string } };
}

test('a portal link: its code in the fragment, exchanged once for a session of its subscriber', async () => {
  const sub = await subscriber('Book Reader');
  const link = await h.api('POST', `/v1/subscribers/${sub.id}/portal-links`);
  assert.equal(link.status, 201);
  const url = new URL(link.body.url);
  assert.equal(`${url.protocol}//${url.host}`, h.url, 'links point at the registry by default');
  assert.equal(url.pathname, '/portal');
  assert.equal(url.search, '', 'the code is never in the query (it would reach server logs)');
  assert.match(url.hash, /^#code=hl_pc_[A-Za-z0-9_-]{43}$/);
  const ttl = Date.parse(link.body.expires_at) - Date.now();
  assert.ok(ttl > 9 * 60_000 && ttl <= 10 * 60_000, `expires in 10 minutes, not ${ttl} ms`);

  const anon = apiClient(h.url, null);
  const first = await anon('POST', '/v1/portal/sessions', { code: codeOf(link.body.url) });
  assert.equal(first.status, 201);
  assert.match(first.body.token, /^hl_ps_/);
  assert.deepEqual(first.body.subscriber, { id: sub.id, name: 'Book Reader' });
  const hours = (Date.parse(first.body.expires_at) - Date.now()) / 3600_000;
  assert.ok(hours > 7.9 && hours <= 8, `the session lasts 8 hours, not ${hours}`);

  const again = await anon('POST', '/v1/portal/sessions', { code: codeOf(link.body.url) });
  assert.equal(again.status, 401);
  assert.equal(again.body.error.code, 'portal_code_invalid');
  assert.match(again.body.error.message, /expired or was used already; ask for a new one/);
  assert.equal(
    (await anon('POST', '/v1/portal/sessions', { code: 'hl_pc_never-made' })).body.error.code,
    'portal_code_invalid',
  );

  const me = await apiClient(h.url, first.body.token)('GET', '/v1/me');
  assert.equal(me.status, 200);
  assert.deepEqual(me.body, {
    kind: 'subscriber',
    id: sub.id,
    name: 'Book Reader',
    expires_at: first.body.expires_at,
    portal: true,
  });
  const byKey = await apiClient(h.url, sub.api_key)('GET', '/v1/me');
  assert.deepEqual(byKey.body, {
    kind: 'subscriber',
    id: sub.id,
    name: 'Book Reader',
    expires_at: null,
    portal: false,
  });
  assert.deepEqual((await h.api('GET', '/v1/me')).body, {
    kind: 'admin',
    id: 'admin',
    name: 'admin',
    expires_at: null,
    portal: false,
  });
});

test('two exchanges of one code at once: exactly one wins', async () => {
  const sub = await subscriber('racer');
  for (let round = 0; round < 3; round++) {
    const link = await h.api('POST', `/v1/subscribers/${sub.id}/portal-links`);
    const code = codeOf(link.body.url);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        apiClient(h.url, null)('POST', '/v1/portal/sessions', { code }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [201, 401, 401, 401, 401, 401], `round ${round}`);
  }
});

test("a portal session sees its subscriber's objects and never another's", async () => {
  const r = await receivers.start();
  const a = await subscriber('A');
  const b = await subscriber('B');
  const asA = apiClient(h.url, a.api_key);
  const asB = apiClient(h.url, b.api_key);
  const epA = (await asA('POST', '/v1/endpoints', { url: `${r.url}/a`, topics: ['portal.topic'] }))
    .body.id as string;
  const epB = (await asB('POST', '/v1/endpoints', { url: `${r.url}/b`, topics: ['portal.topic'] }))
    .body.id as string;
  const msg = await h.api('POST', '/v1/messages', { topic: 'portal.topic', data: { n: 1 } });
  assert.equal(msg.status, 202);
  const deliveries = await waitFor('both deliveries to succeed', async () => {
    const list = (await h.api('GET', `/v1/messages/${msg.body.id}/deliveries`)).body.data;
    return list.length === 2 && list.every((d: { status: string }) => d.status === 'succeeded')
      ? (list as Array<{ id: string; endpoint_id: string }>)
      : null;
  });
  const dA = deliveries.find((d) => d.endpoint_id === epA)?.id as string;
  const dB = deliveries.find((d) => d.endpoint_id === epB)?.id as string;
  const jobB = (await asB('POST', '/v1/deliveries/retry', { status: 'failed' })).body.id as string;

  const portal = apiClient(h.url, (await portalSession(a.id)).token);
  // Its own.
  assert.equal((await portal('GET', `/v1/endpoints/${epA}`)).status, 200);
  assert.equal((await portal('GET', `/v1/deliveries/${dA}`)).status, 200);
  assert.equal((await portal('GET', `/v1/deliveries/${dA}/attempts`)).status, 200);
  assert.equal((await portal('GET', `/v1/endpoints/${epA}/secret`)).status, 200);
  // Another's: 404, as if it did not exist.
  for (const path of [
    `/v1/endpoints/${epB}`,
    `/v1/endpoints/${epB}/secret`,
    `/v1/deliveries/${dB}`,
    `/v1/deliveries/${dB}/attempts`,
    `/v1/stats?endpoint_id=${epB}`,
    `/v1/jobs/${jobB}`,
  ]) {
    const res = await portal('GET', path);
    assert.equal(res.status, 404, `${path}: ${res.status}`);
  }
  assert.equal((await portal('POST', `/v1/endpoints/${epB}/test`)).status, 404);
  assert.equal(
    (await portal('POST', '/v1/deliveries/retry', { status: 'failed', endpoint_id: epB })).status,
    404,
  );
  // Lists and stats hold only its own.
  const endpoints = (await portal('GET', '/v1/endpoints?limit=1000')).body.data;
  assert.deepEqual(
    endpoints.map((e: { id: string }) => e.id),
    [epA],
  );
  const listed = (await portal('GET', '/v1/deliveries?limit=1000')).body.data;
  assert.deepEqual(
    listed.map((d: { id: string }) => d.id),
    [dA],
  );
  assert.deepEqual(
    (await portal('GET', `/v1/deliveries?endpoint_id=${epB}`)).body.data,
    [],
    "filtering by another's endpoint finds nothing",
  );
  const stats = await waitFor('the stats to count the attempt', async () => {
    const s = (await portal('GET', '/v1/stats')).body;
    return s.totals.succeeded >= 1 ? s : null;
  });
  assert.deepEqual(stats.totals, { succeeded: 1, failed: 0 }, "only A's attempt is counted");
  // What a subscriber may not do, a portal session may not either.
  assert.equal((await portal('GET', '/v1/messages')).status, 403);
  assert.equal((await portal('POST', `/v1/subscribers/${a.id}/portal-links`)).status, 403);
});

test('a session ends when asked, and when its subscriber is deleted', async () => {
  const sub = await subscriber('leaver');
  const one = apiClient(h.url, (await portalSession(sub.id)).token);
  assert.equal((await one('GET', '/v1/endpoints')).status, 200);
  assert.equal((await one('DELETE', '/v1/portal/sessions/current')).status, 204);
  const ended = await one('GET', '/v1/endpoints');
  assert.equal(ended.status, 401);
  assert.equal(ended.body.error.code, 'unauthorized');
  assert.equal(
    (await apiClient(h.url, sub.api_key)('DELETE', '/v1/portal/sessions/current')).status,
    403,
  );

  const two = apiClient(h.url, (await portalSession(sub.id)).token);
  const link = await h.api('POST', `/v1/subscribers/${sub.id}/portal-links`);
  assert.equal((await two('GET', '/v1/me')).status, 200);
  assert.equal((await h.api('DELETE', `/v1/subscribers/${sub.id}`)).status, 204);
  await waitFor(
    'the deleted subscriber’s session to be refused',
    async () => (await two('GET', '/v1/me')).status === 401,
    8000,
    250,
  );
  const late = await apiClient(h.url, null)('POST', '/v1/portal/sessions', {
    code: codeOf(link.body.url),
  });
  assert.equal(late.status, 401, 'a link made before the subscriber was deleted is dead');
  assert.equal((await h.api('POST', `/v1/subscribers/${sub.id}/portal-links`)).status, 404);
});

test('codes and session tokens are stored only as hashes', async () => {
  const sub = await subscriber('hashed');
  const link = await h.api('POST', `/v1/subscribers/${sub.id}/portal-links`);
  const unused = codeOf(link.body.url);
  const session = await portalSession(sub.id);
  const client = await MongoClient.connect(h.mongodbUrl);
  try {
    const db = client.db();
    const stored = JSON.stringify([
      await db.collection('portal_codes').find({}).toArray(),
      await db.collection('portal_sessions').find({}).toArray(),
    ]);
    assert.ok(stored.includes(sub.id));
    assert.ok(!stored.includes(unused.slice(6)), 'a code is stored in clear');
    assert.ok(!stored.includes(session.token.slice(6)), 'a session token is stored in clear');
  } finally {
    await client.close();
  }
});

test('an expired code and an expired session are refused; links use HOOKLINE_PUBLIC_URL', async () => {
  const short = await startTestHookline('portalttl', {
    portalCodeTtl: '1s',
    portalSessionTtl: '2s',
    publicUrl: 'https://hooks.example.com/',
  });
  try {
    const sub = (await short.api('POST', '/v1/subscribers', { name: 'slow' })).body;
    const link = await short.api('POST', `/v1/subscribers/${sub.id}/portal-links`);
    assert.match(link.body.url, /^https:\/\/hooks\.example\.com\/portal#code=hl_pc_/);
    const anon = apiClient(short.url, null);
    // The code expires at expires_at: wait until then, not longer.
    await new Promise((r) => setTimeout(r, Date.parse(link.body.expires_at) - Date.now() + 50));
    const unused = await short.api('POST', `/v1/subscribers/${sub.id}/portal-links`);
    const expired = await anon('POST', '/v1/portal/sessions', { code: codeOf(link.body.url) });
    assert.equal(expired.status, 401);
    assert.equal(expired.body.error.code, 'portal_code_invalid');
    // Expired codes are swept (FerretDB has no TTL indexes); a live one stays.
    const codes = short.running.mongo.col.portalCodes;
    const left = await codes.countDocuments({});
    assert.ok(left >= 1);
    await new Promise((r) => setTimeout(r, Date.parse(unused.body.expires_at) - Date.now() + 50));
    const live = await short.api('POST', `/v1/subscribers/${sub.id}/portal-links`);
    assert.ok((await sweepPortal(short.running.mongo)) >= 1);
    assert.equal(await codes.countDocuments({}), 1, 'only the live code is left');
    assert.equal(
      (await anon('POST', '/v1/portal/sessions', { code: codeOf(live.body.url) })).status,
      201,
    );

    const fresh = await short.api('POST', `/v1/subscribers/${sub.id}/portal-links`);
    const session = await anon('POST', '/v1/portal/sessions', { code: codeOf(fresh.body.url) });
    assert.equal(session.status, 201);
    const portal = apiClient(short.url, session.body.token);
    assert.equal((await portal('GET', '/v1/endpoints')).status, 200);
    await new Promise((r) =>
      setTimeout(r, Math.max(0, Date.parse(session.body.expires_at) - Date.now() + 50)),
    );
    const over = await portal('GET', '/v1/endpoints');
    assert.equal(over.status, 401);
    assert.match(over.body.error.message, /portal session has expired/);
  } finally {
    await short.close();
  }
});
