import assert from 'node:assert/strict';
import fc from 'fast-check';
import { after, before, test } from 'node:test';
import { waitFor } from '../helpers/env.js';
import { apiClient, startTestHookline, type TestHookline } from '../helpers/hookline.js';
import { receiverPool } from '../helpers/receiver.js';

let h: TestHookline;
const receivers = receiverPool();
const receiver = receivers.start;
before(async () => {
  h = await startTestHookline('api');
  await h.api('POST', '/v1/topics', { name: 'api.topic', description: 'for the API tests' });
});
after(async () => {
  await h?.close();
  await receivers.closeAll();
});

function assertError(
  res: { status: number; body: { error?: { code?: string; message?: string } } },
  status: number,
  code: string,
) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error?.code, code);
  assert.ok((res.body.error?.message ?? '').length > 5, 'a message a person understands');
}

test('every /v1 route wants the admin token; health routes do not', async () => {
  const anon = apiClient(h.url, null);
  const wrong = apiClient(h.url, 'not-the-token');
  for (const [method, path] of [
    ['GET', '/v1/topics'],
    ['POST', '/v1/topics'],
    ['GET', '/v1/endpoints'],
    ['POST', '/v1/messages'],
    ['GET', '/v1/deliveries'],
    ['POST', '/v1/deliveries/dlv_X/retry'],
  ] as const) {
    assertError(await anon(method, path), 401, 'unauthorized');
    assertError(await wrong(method, path), 401, 'unauthorized');
  }
  assert.equal((await anon('GET', '/healthz')).status, 200);
  const ready = await anon('GET', '/readyz');
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.body.checks, { mongodb: 'ok', nats: 'ok' });
  const metrics = await fetch(`${h.url}/metrics`);
  assert.equal(metrics.status, 200);
  const all = await metrics.text();
  assert.match(all, /hookline_http_requests_total/);
  assert.match(all, /hookline_consumer_backlog/);
  const one = await (await fetch(`${h.url}/metrics?name=hookline_http_requests_total`)).text();
  assert.match(one, /hookline_http_requests_total/);
  assert.doesNotMatch(one, /hookline_consumer_backlog/);
});

test('bad input gets a clear error and changes nothing', async () => {
  const before = (await h.api('GET', '/v1/messages?limit=1000')).body.data.length;
  assertError(
    await h.api('POST', '/v1/messages', '{"topic": "api.topic", "data": '),
    400,
    'malformed_json',
  );
  assertError(await h.api('POST', '/v1/messages', { topic: 'api.topic' }), 422, 'invalid_request');
  assertError(
    await h.api('POST', '/v1/messages', { topic: 'api.topic', data: 1, extra: true }),
    422,
    'invalid_request',
  );
  assertError(
    await h.api('POST', '/v1/messages', { topic: 'no.such.topic', data: 1 }),
    404,
    'topic_not_found',
  );
  assertError(
    await h.api('POST', '/v1/messages', { topic: 'bad topic!', data: 1 }),
    422,
    'invalid_request',
  );
  const big = { topic: 'api.topic', data: 'x'.repeat(1024 * 1024 + 10) };
  assertError(await h.api('POST', '/v1/messages', big), 413, 'payload_too_large');
  const text = await h.api('POST', '/v1/messages', 'hello', { 'content-type': 'text/plain' });
  assertError(text, 415, 'unsupported_media_type');
  assert.equal((await h.api('GET', '/v1/messages?limit=1000')).body.data.length, before);

  assertError(await h.api('POST', '/v1/topics', { name: 'api.topic' }), 409, 'topic_exists');
  assertError(
    await h.api('POST', '/v1/endpoints', { url: 'ftp://x.example/', topics: ['api.topic'] }),
    422,
    'invalid_request',
  );
  assertError(
    await h.api('POST', '/v1/endpoints', { url: 'not a url', topics: ['api.topic'] }),
    422,
    'invalid_request',
  );
  assertError(
    await h.api('POST', '/v1/endpoints', { url: 'http://127.0.0.1:9/x', topics: [] }),
    422,
    'invalid_request',
  );
  assertError(
    await h.api('POST', '/v1/endpoints', { url: 'http://127.0.0.1:9/x', topics: ['nope'] }),
    404,
    'topic_not_found',
  );
  assertError(
    await h.api('POST', '/v1/endpoints', {
      url: 'http://127.0.0.1:9/x',
      topics: ['api.topic'],
      rate_limit: '5',
    }),
    422,
    'invalid_request',
  );
  assertError(await h.api('GET', '/v1/endpoints/ep_nothing'), 404, 'endpoint_not_found');
  assertError(await h.api('GET', '/v1/messages/msg_nothing'), 404, 'message_not_found');
  assertError(await h.api('GET', '/v1/deliveries/dlv_nothing/attempts'), 404, 'delivery_not_found');
  assertError(await h.api('GET', '/v1/messages?limit=5000'), 422, 'invalid_request');
  assertError(await h.api('GET', '/v1/nowhere'), 404, 'not_found');
});

test('lists are newest first and page with a cursor', async () => {
  const names = ['page.a', 'page.b', 'page.c', 'page.d', 'page.e'];
  for (const name of names) assert.equal((await h.api('POST', '/v1/topics', { name })).status, 201);
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const q: string = cursor ? `&cursor=${cursor}` : '';
    const res = await h.api('GET', `/v1/topics?limit=2${q}`);
    assert.equal(res.status, 200);
    assert.ok(res.body.data.length <= 2);
    seen.push(...res.body.data.map((t: { name: string }) => t.name));
    cursor = res.body.next_cursor;
    pages++;
  } while (cursor);
  assert.deepEqual(seen.slice(0, 5), [...names].reverse());
  // Then api.topic, and the system topic hookline.endpoint.disabled, the oldest of all.
  assert.deepEqual(seen.slice(5), ['api.topic', 'hookline.endpoint.disabled']);
  assert.equal(pages, 4);
  assertError(await h.api('GET', '/v1/topics?cursor=%%%'), 422, 'invalid_request');
});

test('verification: a receiver that echoes the token is active at once', async () => {
  const r = await receiver();
  const res = await h.api('POST', '/v1/endpoints', {
    url: r.url,
    topics: ['api.topic'],
    rate_limit: 50,
    description: 'echo',
  });
  assert.equal(res.status, 201);
  assert.equal(res.body.status, 'active');
  assert.equal(res.body.rate_limit, 50);
  const v = r.requests[0]!;
  assert.equal(v.json.type, 'endpoint.verification');
  assert.match(String(v.json.data?.token), /^vt_/);
  assert.ok(v.headers['webhook-signature'], 'the verification request is signed');
  // The secret is shown at creation and rotation only.
  const got = await h.api('GET', `/v1/endpoints/${res.body.id}`);
  assert.equal(got.body.secret, undefined);
});

test('verification: a 2xx without the token leaves the endpoint pending until /verify', async () => {
  const quiet = await receiver();
  // startReceiver echoes verification by default; use a raw server that does not.
  const { createServer } = await import('node:http');
  const tokens: string[] = [];
  const server = createServer((req, res) => {
    let b = '';
    req.on('data', (c) => (b += c));
    req.on('end', () => {
      const j = JSON.parse(b);
      if (j.type === 'endpoint.verification') tokens.push(j.data.token);
      else
        quiet.requests.push({
          method: 'POST',
          path: '/',
          headers: req.headers,
          body: b,
          json: j,
          at: Date.now(),
        });
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as { port: number }).port;
  try {
    const res = await h.api('POST', '/v1/endpoints', {
      url: `http://127.0.0.1:${port}/`,
      topics: ['api.topic'],
    });
    assert.equal(res.status, 201);
    assert.equal(res.body.status, 'pending');
    // No deliveries while pending.
    await h.api('POST', '/v1/messages', { topic: 'api.topic', data: { while: 'pending' } });
    assertError(
      await h.api('POST', `/v1/endpoints/${res.body.id}/verify`, { token: 'vt_wrong' }),
      422,
      'invalid_token',
    );
    assertError(await h.api('POST', `/v1/endpoints/${res.body.id}/enable`), 409, 'conflict');
    // Disabling and enabling does not skip the verification.
    await h.api('POST', `/v1/endpoints/${res.body.id}/disable`);
    const reenabled = await h.api('POST', `/v1/endpoints/${res.body.id}/enable`);
    assert.equal(reenabled.body.status, 'pending');
    const ok = await h.api('POST', `/v1/endpoints/${res.body.id}/verify`, { token: tokens[0] });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.status, 'active');
    await waitFor('the next event to arrive', async () => {
      await h.api('POST', '/v1/messages', { topic: 'api.topic', data: { after: 'verify' } });
      await new Promise((r2) => setTimeout(r2, 100));
      return quiet.requests.length > 0;
    });
    assert.ok(
      quiet.requests.every((q) => q.json.data?.while !== 'pending'),
      'nothing was delivered while pending',
    );
  } finally {
    server.close();
  }
});

test('verification: unreachable or non-2xx refuses the endpoint and stores nothing', async () => {
  const count = async () => (await h.api('GET', '/v1/endpoints?limit=1000')).body.data.length;
  const before = await count();
  const r = await receiver();
  const { createServer } = await import('node:http');
  const server = createServer((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as { port: number }).port;
  try {
    assertError(
      await h.api('POST', '/v1/endpoints', {
        url: `http://127.0.0.1:${port}/`,
        topics: ['api.topic'],
      }),
      422,
      'endpoint_unreachable',
    );
  } finally {
    server.close();
  }
  await r.close();
  assertError(
    await h.api('POST', '/v1/endpoints', { url: `${r.url}/closed`, topics: ['api.topic'] }),
    422,
    'endpoint_unreachable',
  );
  assert.equal(await count(), before);
});

test('patch, disable and delete an endpoint', async () => {
  const r = await receiver();
  const ep = (await h.api('POST', '/v1/endpoints', { url: r.url, topics: ['api.topic'] })).body;
  await h.api('POST', '/v1/topics', { name: 'api.other' });
  const patched = await h.api('PATCH', `/v1/endpoints/${ep.id}`, {
    topics: ['api.other'],
    description: 'moved',
    rate_limit: null,
  });
  assert.equal(patched.status, 200);
  assert.deepEqual(patched.body.topics, ['api.other']);
  assert.equal(patched.body.description, 'moved');
  assertError(await h.api('PATCH', `/v1/endpoints/${ep.id}`, {}), 422, 'invalid_request');
  const disabled = await h.api('POST', `/v1/endpoints/${ep.id}/disable`);
  assert.equal(disabled.body.status, 'disabled');
  assert.equal((await h.api('DELETE', `/v1/endpoints/${ep.id}`)).status, 204);
  assertError(await h.api('DELETE', `/v1/endpoints/${ep.id}`), 404, 'endpoint_not_found');
});

test('the egress guard refuses loopback unless HOOKLINE_ALLOW_TARGETS lists it', async () => {
  const guarded = await startTestHookline('egress', { allowTargets: '' });
  try {
    await guarded.api('POST', '/v1/topics', { name: 'egress.topic' });
    const r = await receiver();
    for (const url of [
      r.url,
      `http://localhost:${r.port}/`,
      `http://127.1.2.3:${r.port}/`,
      `http://[::1]:${r.port}/`,
      `http://[::ffff:127.0.0.1]:${r.port}/`,
      `http://0.0.0.0:${r.port}/`,
      `http://2130706433:${r.port}/`,
    ]) {
      const res = await guarded.api('POST', '/v1/endpoints', { url, topics: ['egress.topic'] });
      assertError(res, 422, 'target_not_allowed');
    }
    assert.equal(r.requests.length, 0, 'no request reached the receiver');
  } finally {
    await guarded.close();
  }
});

test('with verification off, endpoints are active without a handshake', async () => {
  const plain = await startTestHookline('noverify', { verifyEndpoints: 'false' });
  try {
    await plain.api('POST', '/v1/topics', { name: 'nv.topic' });
    const r = await receiver();
    const res = await plain.api('POST', '/v1/endpoints', { url: r.url, topics: ['nv.topic'] });
    assert.equal(res.body.status, 'active');
    assert.equal(r.requests.length, 0);
    await plain.api('POST', '/v1/messages', { topic: 'nv.topic', data: {} });
    await waitFor('the event', () => r.events.length === 1);
  } finally {
    await plain.close();
  }
});

test('batch publish: up to 1000 messages, validated as a whole, keys per message', async () => {
  const count = async () =>
    (await h.api('GET', '/v1/messages?topic=api.topic&limit=1000')).body.data.length;
  const before = await count();
  const bad = await h.api('POST', '/v1/messages/batch', {
    messages: [
      { topic: 'api.topic', data: 1 },
      { topic: 'api.topic', data: 2 },
      { topic: 'api.topic' },
    ],
  });
  assertError(bad, 422, 'invalid_request');
  assert.match(bad.body.error.message, /messages\.2/);
  const unknown = await h.api('POST', '/v1/messages/batch', {
    messages: [
      { topic: 'api.topic', data: 1 },
      { topic: 'nope.topic', data: 2 },
    ],
  });
  assertError(unknown, 404, 'topic_not_found');
  assert.match(unknown.body.error.message, /messages\[1\]/);
  const tooMany = await h.api('POST', '/v1/messages/batch', {
    messages: Array.from({ length: 1001 }, (_, i) => ({ topic: 'api.topic', data: i })),
  });
  assertError(tooMany, 422, 'invalid_request');
  assert.equal(await count(), before, 'a refused batch publishes nothing');

  const first = await h.api(
    'POST',
    '/v1/messages',
    { topic: 'api.topic', data: 'k1' },
    { 'idempotency-key': 'batch-k1' },
  );
  const res = await h.api('POST', '/v1/messages/batch', {
    messages: [
      { topic: 'api.topic', data: 'a', idempotency_key: 'batch-k2' },
      { topic: 'api.topic', data: 'k1 again', idempotency_key: 'batch-k1' },
      { topic: 'api.topic', data: 'a again', idempotency_key: 'batch-k2' },
      { topic: 'api.topic', data: 'b' },
    ],
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const out = res.body.data as Array<{ id: string; repeated: boolean; data: unknown }>;
  assert.deepEqual(
    out.map((m) => m.repeated),
    [false, true, true, false],
  );
  assert.equal(out[1]!.id, first.body.id);
  assert.equal(out[2]!.id, out[0]!.id);
  assert.equal(await count(), before + 3);
});

test('topics: one created elsewhere is accepted at once; one known is not read again', async () => {
  const { MongoClient } = await import('mongodb');
  const db = await MongoClient.connect(h.mongodbUrl);
  try {
    const topics = db.db().collection('topics');
    // Refused, then created by "another registry" (straight into the catalogue): a refusal
    // is not remembered, so the next publish finds it.
    assertError(
      await h.api('POST', '/v1/messages', { topic: 'api.late', data: 1 }),
      404,
      'topic_not_found',
    );
    await topics.insertOne({
      _id: 'top_late' as never,
      name: 'api.late',
      description: '',
      created_at: new Date(),
    });
    assert.equal((await h.api('POST', '/v1/messages', { topic: 'api.late', data: 2 })).status, 202);
    // Known now: topics are never deleted, so the registry does not read it again. Removed
    // behind its back (nothing hookline does), it is still accepted, single and in batches.
    await topics.deleteOne({ name: 'api.late' });
    assert.equal((await h.api('POST', '/v1/messages', { topic: 'api.late', data: 3 })).status, 202);
    const batch = await h.api('POST', '/v1/messages/batch', {
      messages: [
        { topic: 'api.late', data: 4 },
        { topic: 'api.never', data: 5 },
      ],
    });
    assertError(batch, 404, 'topic_not_found');
    assert.match(batch.body.error.message, /messages\[1\]/);
  } finally {
    await db.close();
  }
});

test('hostile JSON: too deep or too many values is refused and changes nothing', async () => {
  let deep: unknown = 1;
  for (let i = 0; i < 40; i++) deep = { d: deep };
  const res = await h.api('POST', '/v1/messages', { topic: 'api.topic', data: deep });
  assertError(res, 422, 'invalid_request');
  assert.match(res.body.error.message, /nests deeper than 32/);
  const wide = await h.api('POST', '/v1/messages', {
    topic: 'api.topic',
    data: Array.from({ length: 100_001 }, () => 0),
  });
  assertError(wide, 422, 'invalid_request');
  let ok: unknown = 1;
  for (let i = 0; i < 20; i++) ok = { d: ok };
  assert.equal((await h.api('POST', '/v1/messages', { topic: 'api.topic', data: ok })).status, 202);
});

test('per-token request rate limit: 429 with Retry-After', async () => {
  const limited = await startTestHookline('ratelimited', { apiRateLimit: '5' });
  try {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 8; i++) {
      const res = await limited.api('GET', '/v1/topics');
      statuses.push(res.status);
      if (res.status === 429) {
        retryAfter = res.headers.get('retry-after');
        assert.equal(res.body.error.code, 'rate_limited');
      }
    }
    assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
    assert.ok(
      statuses.slice(5).every((s) => s === 429),
      statuses.join(','),
    );
    assert.equal(retryAfter, '1');
    assert.equal(
      (await apiClient(limited.url, null)('GET', '/healthz')).status,
      200,
      'health is not limited',
    );
  } finally {
    await limited.close();
  }
});

test("an endpoint's own headers are sent, and cannot replace or inject protocol headers", async () => {
  const r = await receiver();
  for (const bad of [
    { 'Webhook-Signature': 'v1,forged' },
    { 'content-type': 'text/plain' },
    { Host: 'elsewhere' },
    { 'X-Ok': 'a\r\nX-Injected: 1' },
    { 'Bad Name': 'x' },
  ]) {
    const res = await h.api('POST', '/v1/endpoints', {
      url: r.url,
      topics: ['api.topic'],
      headers: bad,
    });
    assert.equal(res.status, 422, `${JSON.stringify(bad)}: ${JSON.stringify(res.body)}`);
    assertError(res, 422, 'invalid_request');
  }
  assert.equal(r.requests.length, 0, 'a refused endpoint is never contacted');
  const ep = await h.api('POST', '/v1/endpoints', {
    url: r.url,
    topics: ['api.topic'],
    headers: { 'X-Api-Key': 'receiver-key' },
  });
  assert.equal(ep.status, 201, JSON.stringify(ep.body));
  assert.deepEqual(ep.body.headers, { 'x-api-key': 'receiver-key' });
  assert.equal(
    r.requests[0]?.headers['x-api-key'],
    'receiver-key',
    'the verification request carries them too',
  );
  await h.api('POST', '/v1/messages', { topic: 'api.topic', data: { h: 1 } });
  const got = await waitFor('the event', () =>
    r.events.find((e) => (e.json.data as { h?: number } | undefined)?.h === 1),
  );
  assert.equal(got.headers['x-api-key'], 'receiver-key');
  assert.equal(got.headers['content-type'], 'application/json');
});

test('property: arbitrary JSON bodies never crash the API and never store without a 2xx', async () => {
  const count = async () => (await h.api('GET', '/v1/messages?limit=1000')).body.data.length;
  const before = await count();
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.jsonValue({ maxDepth: 4 }),
      fc.constantFrom('/v1/messages', '/v1/topics', '/v1/messages/batch'),
      async (body, path) => {
        const res = await h.api('POST', path, JSON.stringify(body));
        assert.ok(
          res.status < 500,
          `${path} ${JSON.stringify(body).slice(0, 200)} → ${res.status}`,
        );
        if (res.status >= 400) assert.equal(typeof res.body.error?.code, 'string');
        if (path === '/v1/messages' && res.status === 202) accepted++;
        if (path === '/v1/messages/batch' && res.status === 202)
          accepted += res.body.data.filter((m: { repeated: boolean }) => !m.repeated).length;
      },
    ),
    { numRuns: 60 },
  );
  assert.equal(await count(), before + accepted);
});
