import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '../helpers/env.js';
import { apiClient, startTestHookline, type TestHookline } from '../helpers/hookline.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

// Every route, for every role: the admin, a publisher, a subscriber on its own objects,
// another subscriber on them, and a portal session of the first subscriber (which must be
// exactly the subscriber). Another subscriber's objects answer 404; a role that may not
// answers 403; no or a wrong token 401.

let h: TestHookline;
let r: Receiver;
const ids: Record<string, string> = {};
type Role = 'admin' | 'publisher' | 'owner' | 'other' | 'portal';
const ROLES = ['admin', 'publisher', 'owner', 'other', 'portal'] as const;
const tokens: Record<Role, string> = {
  admin: 'test-admin-token',
  publisher: '',
  owner: '',
  other: '',
  portal: '',
};

before(async () => {
  h = await startTestHookline('auth');
  r = await startReceiver();
  const admin = apiClient(h.url);
  const pub = await admin('POST', '/v1/publishers', { name: 'books-service' });
  assert.equal(pub.status, 201);
  assert.match(pub.body.token, /^hl_pub_/);
  tokens.publisher = pub.body.token;
  ids.publisher = pub.body.id;
  for (const who of ['owner', 'other'] as const) {
    const sub = await apiClient(h.url, tokens.publisher)('POST', '/v1/subscribers', { name: who });
    assert.equal(sub.status, 201);
    assert.match(sub.body.api_key, /^hl_sub_/);
    tokens[who] = sub.body.api_key;
    ids[who] = sub.body.id;
  }
  await admin('POST', '/v1/topics', { name: 'auth.topic' });
  const own = await apiClient(h.url, tokens.owner)('POST', '/v1/endpoints', {
    url: `${r.url}/owner`,
    topics: ['auth.topic'],
  });
  assert.equal(own.status, 201);
  ids.endpoint = own.body.id;
  const msg = await apiClient(h.url, tokens.publisher)('POST', '/v1/messages', {
    topic: 'auth.topic',
    data: { n: 1 },
  });
  assert.equal(msg.status, 202);
  ids.message = msg.body.id;
  const [d] = await waitFor('the delivery', async () => {
    const list = (await admin('GET', `/v1/messages/${ids.message}/deliveries`)).body.data;
    return list[0]?.status === 'succeeded' && list;
  });
  ids.delivery = d.id;
  const link = await apiClient(h.url, tokens.publisher)(
    'POST',
    `/v1/subscribers/${ids.owner}/portal-links`,
  );
  assert.equal(link.status, 201);
  const code = new URL(link.body.url).hash.replace(/^#code=/, '');
  const session = await apiClient(h.url, null)('POST', '/v1/portal/sessions', { code });
  assert.equal(session.status, 201);
  assert.match(session.body.token, /^hl_ps_/);
  tokens.portal = session.body.token;
  const ownJob = await apiClient(h.url, tokens.owner)('POST', '/v1/deliveries/retry', {
    status: 'failed',
  });
  assert.equal(ownJob.status, 202);
  ids.ownerJob = ownJob.body.id;
  const adminJob = await admin('POST', '/v1/deliveries/retry', { status: 'failed' });
  assert.equal(adminJob.status, 202);
  ids.adminJob = adminJob.body.id;
});
after(async () => {
  await h?.close();
  await r?.close();
});

const OK = 'ok';
type Expect = typeof OK | 401 | 403 | 404 | 409;
interface Case {
  method: string;
  path: () => string;
  body?: () => unknown;
  expect: Record<Role, Expect>;
}
let n = 0;
const fresh = () => `auth.t${n++}`;
const all = (e: Expect): Record<Role, Expect> => ({
  admin: e,
  publisher: e,
  owner: e,
  other: e,
  portal: e,
});
/** A portal session may do exactly what its subscriber may: the owner's expectation. */
const roles = (e: Omit<Record<Role, Expect>, 'portal'>): Record<Role, Expect> => ({
  ...e,
  portal: e.owner,
});
const cases: Case[] = [
  {
    method: 'POST',
    path: () => '/v1/topics',
    body: () => ({ name: fresh() }),
    expect: roles({ admin: OK, publisher: OK, owner: 403, other: 403 }),
  },
  { method: 'GET', path: () => '/v1/topics', expect: all(OK) },
  { method: 'GET', path: () => '/v1/topics/auth.topic', expect: all(OK) },
  {
    method: 'POST',
    path: () => '/v1/endpoints',
    body: () => ({ url: `${r.url}/x`, topics: ['auth.topic'] }),
    expect: roles({ admin: OK, publisher: 403, owner: OK, other: OK }),
  },
  { method: 'GET', path: () => '/v1/endpoints', expect: all(OK) },
  {
    method: 'GET',
    path: () => `/v1/endpoints/${ids.endpoint}`,
    expect: roles({ admin: OK, publisher: OK, owner: OK, other: 404 }),
  },
  {
    method: 'PATCH',
    path: () => `/v1/endpoints/${ids.endpoint}`,
    body: () => ({ description: 'd' }),
    expect: roles({ admin: OK, publisher: 403, owner: OK, other: 404 }),
  },
  {
    method: 'POST',
    path: () => `/v1/endpoints/${ids.endpoint}/verify`,
    body: () => ({ token: 'vt_x' }),
    expect: roles({ admin: OK, publisher: 403, owner: OK, other: 404 }),
  },
  {
    method: 'POST',
    path: () => `/v1/endpoints/${ids.endpoint}/rotate-secret`,
    expect: roles({ admin: OK, publisher: 403, owner: OK, other: 404 }),
  },
  {
    method: 'POST',
    path: () => `/v1/endpoints/${ids.endpoint}/disable`,
    expect: roles({ admin: OK, publisher: 403, owner: OK, other: 404 }),
  },
  {
    method: 'POST',
    path: () => `/v1/endpoints/${ids.endpoint}/enable`,
    expect: roles({ admin: OK, publisher: 403, owner: OK, other: 404 }),
  },
  {
    method: 'DELETE',
    path: () => '/v1/endpoints/ep_NOTHING',
    expect: roles({ admin: 404, publisher: 403, owner: 404, other: 404 }),
  },
  {
    method: 'POST',
    path: () => '/v1/messages',
    body: () => ({ topic: 'auth.topic', data: 1 }),
    expect: roles({ admin: OK, publisher: OK, owner: 403, other: 403 }),
  },
  {
    method: 'POST',
    path: () => '/v1/messages/batch',
    body: () => ({ messages: [{ topic: 'auth.topic', data: 1 }] }),
    expect: roles({ admin: OK, publisher: OK, owner: 403, other: 403 }),
  },
  {
    method: 'GET',
    path: () => '/v1/messages',
    expect: roles({ admin: OK, publisher: OK, owner: 403, other: 403 }),
  },
  {
    method: 'GET',
    path: () => `/v1/messages/${ids.message}`,
    expect: roles({ admin: OK, publisher: OK, owner: 403, other: 403 }),
  },
  {
    method: 'GET',
    path: () => `/v1/messages/${ids.message}/deliveries`,
    expect: roles({ admin: OK, publisher: OK, owner: 403, other: 403 }),
  },
  { method: 'GET', path: () => '/v1/deliveries', expect: all(OK) },
  {
    method: 'GET',
    path: () => `/v1/deliveries/${ids.delivery}`,
    expect: roles({ admin: OK, publisher: OK, owner: OK, other: 404 }),
  },
  {
    method: 'GET',
    path: () => `/v1/deliveries/${ids.delivery}/attempts`,
    expect: roles({ admin: OK, publisher: OK, owner: OK, other: 404 }),
  },
  {
    method: 'POST',
    path: () => `/v1/deliveries/${ids.delivery}/retry`,
    expect: roles({ admin: 409, publisher: 403, owner: 409, other: 404 }),
  },
  {
    method: 'POST',
    path: () => '/v1/publishers',
    body: () => ({ name: 'p' }),
    expect: roles({ admin: OK, publisher: 403, owner: 403, other: 403 }),
  },
  {
    method: 'GET',
    path: () => '/v1/publishers',
    expect: roles({ admin: OK, publisher: 403, owner: 403, other: 403 }),
  },
  {
    method: 'DELETE',
    path: () => '/v1/publishers/pub_NOTHING',
    expect: roles({ admin: 404, publisher: 403, owner: 403, other: 403 }),
  },
  {
    method: 'POST',
    path: () => '/v1/subscribers',
    body: () => ({ name: 's' }),
    expect: roles({ admin: OK, publisher: OK, owner: 403, other: 403 }),
  },
  {
    method: 'GET',
    path: () => '/v1/subscribers',
    expect: roles({ admin: OK, publisher: OK, owner: 403, other: 403 }),
  },
  {
    method: 'GET',
    path: () => `/v1/subscribers/${ids.owner}`,
    expect: roles({ admin: OK, publisher: OK, owner: OK, other: 403 }),
  },
  {
    method: 'DELETE',
    path: () => '/v1/subscribers/sub_NOTHING',
    expect: roles({ admin: 404, publisher: 404, owner: 403, other: 403 }),
  },
  // The console's and the portal's routes.
  { method: 'GET', path: () => '/v1/me', expect: all(OK) },
  {
    method: 'POST',
    path: () => `/v1/subscribers/${ids.owner}/portal-links`,
    expect: roles({ admin: OK, publisher: OK, owner: 403, other: 403 }),
  },
  {
    method: 'POST',
    path: () => '/v1/subscribers/sub_NOTHING/portal-links',
    expect: roles({ admin: 404, publisher: 404, owner: 403, other: 403 }),
  },
  {
    method: 'POST',
    path: () => '/v1/portal/sessions',
    body: () => ({ code: 'hl_pc_not-a-code' }),
    expect: all(401),
  },
  { method: 'GET', path: () => '/v1/stats', expect: all(OK) },
  {
    method: 'GET',
    path: () => `/v1/stats?endpoint_id=${ids.endpoint}&bucket=5m`,
    expect: roles({ admin: OK, publisher: OK, owner: OK, other: 404 }),
  },
  {
    method: 'GET',
    path: () => `/v1/endpoints?owner_id=${ids.owner}`,
    expect: roles({ admin: OK, publisher: OK, owner: 403, other: 403 }),
  },
  {
    method: 'GET',
    path: () => '/v1/endpoints?url=127.0.0.1&status=active&topic=auth.topic',
    expect: all(OK),
  },
  {
    method: 'GET',
    path: () => '/v1/messages?topic=auth.topic&from=2020-01-01T00:00:00Z',
    expect: roles({ admin: OK, publisher: OK, owner: 403, other: 403 }),
  },
  {
    method: 'GET',
    path: () => '/v1/deliveries?topic=auth.topic&status=succeeded&to=2100-01-01T00:00:00Z',
    expect: all(OK),
  },
  {
    method: 'POST',
    path: () => '/v1/deliveries/retry',
    body: () => ({ status: 'failed' }),
    expect: roles({ admin: OK, publisher: 403, owner: OK, other: OK }),
  },
  {
    method: 'POST',
    path: () => '/v1/deliveries/retry',
    body: () => ({ status: 'failed', endpoint_id: ids.endpoint }),
    expect: roles({ admin: OK, publisher: 403, owner: OK, other: 404 }),
  },
  {
    method: 'GET',
    path: () => `/v1/jobs/${ids.ownerJob}`,
    expect: roles({ admin: OK, publisher: OK, owner: OK, other: 404 }),
  },
  {
    method: 'GET',
    path: () => `/v1/jobs/${ids.adminJob}`,
    expect: roles({ admin: OK, publisher: OK, owner: 404, other: 404 }),
  },
  { method: 'GET', path: () => '/v1/jobs/job_NOTHING', expect: all(404) },
  {
    method: 'POST',
    path: () => `/v1/endpoints/${ids.endpoint}/test`,
    expect: roles({ admin: OK, publisher: 403, owner: OK, other: 404 }),
  },
  {
    method: 'GET',
    path: () => `/v1/endpoints/${ids.endpoint}/secret`,
    expect: roles({ admin: OK, publisher: 403, owner: OK, other: 404 }),
  },
  // Last: it ends the portal session the cases above used.
  {
    method: 'DELETE',
    path: () => '/v1/portal/sessions/current',
    expect: { admin: 403, publisher: 403, owner: 403, other: 403, portal: OK },
  },
];

test('every route, every role', async () => {
  const failures: string[] = [];
  for (const c of cases) {
    const anon = await apiClient(h.url, null)(c.method, c.path(), c.body?.());
    if (anon.status !== 401)
      failures.push(`${c.method} ${c.path()} without a token: ${anon.status}`);
    const wrong = await apiClient(h.url, 'hl_sub_not-a-key')(c.method, c.path(), c.body?.());
    if (wrong.status !== 401)
      failures.push(`${c.method} ${c.path()} with a wrong token: ${wrong.status}`);
    for (const role of ROLES) {
      const res = await apiClient(h.url, tokens[role])(c.method, c.path(), c.body?.());
      const want = c.expect[role];
      const ok = want === OK ? res.status >= 200 && res.status < 300 : res.status === want;
      if (!ok)
        failures.push(
          `${c.method} ${c.path()} as ${role}: ${res.status} (want ${want}) ${JSON.stringify(res.body).slice(0, 120)}`,
        );
      if (typeof want === 'number' && res.body?.error?.code === undefined)
        failures.push(`${c.method} ${c.path()} as ${role}: no error body`);
    }
  }
  assert.deepEqual(failures, []);
  // The last case ended the portal session: it is refused at once.
  assert.equal((await apiClient(h.url, tokens.portal)('GET', '/v1/me')).status, 401);
});

test('subscribers list only their own endpoints and deliveries', async () => {
  const asOwner = apiClient(h.url, tokens.owner);
  const asOther = apiClient(h.url, tokens.other);
  const ownEndpoints = (await asOwner('GET', '/v1/endpoints?limit=1000')).body.data.map(
    (e: { id: string }) => e.id,
  );
  assert.ok(ownEndpoints.includes(ids.endpoint));
  const otherEndpoints = (await asOther('GET', '/v1/endpoints?limit=1000')).body.data.map(
    (e: { id: string }) => e.id,
  );
  assert.ok(!otherEndpoints.includes(ids.endpoint));
  const ownDeliveries = (await asOwner('GET', '/v1/deliveries?limit=1000')).body.data;
  assert.ok(ownDeliveries.some((d: { id: string }) => d.id === ids.delivery));
  assert.ok(
    ownDeliveries.every((d: { endpoint_id: string }) => ownEndpoints.includes(d.endpoint_id)),
  );
  const otherDeliveries = (await asOther('GET', '/v1/deliveries?limit=1000')).body.data;
  assert.ok(!otherDeliveries.some((d: { id: string }) => d.id === ids.delivery));
  // Filtering by another's endpoint finds nothing rather than its deliveries.
  assert.deepEqual(
    (await asOther('GET', `/v1/deliveries?endpoint_id=${ids.endpoint}`)).body.data,
    [],
  );
});

test('tokens are stored hashed, shown once, and revocable', async () => {
  const admin = apiClient(h.url);
  const { MongoClient } = await import('mongodb');
  const client = await MongoClient.connect(h.mongodbUrl);
  try {
    const stored = JSON.stringify(await client.db().collection('principals').find({}).toArray());
    for (const t of [tokens.publisher, tokens.owner, tokens.other])
      assert.ok(!stored.includes(t), 'a token is stored in clear');
  } finally {
    await client.close();
  }
  // Endpoint secrets are encrypted at rest.
  const client2 = await MongoClient.connect(h.mongodbUrl);
  try {
    const ep = await admin('POST', '/v1/endpoints', {
      url: `${r.url}/enc`,
      topics: ['auth.topic'],
    });
    const stored = await client2.db().collection('endpoints').findOne({ _id: ep.body.id });
    const sealed = stored?.secrets?.[0]?.secret as string;
    assert.match(sealed, /^enc:v1:/);
    assert.ok(
      !JSON.stringify(stored).includes(ep.body.secret.slice(6)),
      'the secret is stored in clear',
    );
  } finally {
    await client2.close();
  }
  const listed = JSON.stringify((await admin('GET', '/v1/subscribers')).body);
  assert.ok(!listed.includes(tokens.owner), 'a key is shown after creation');
  const victim = await admin('POST', '/v1/subscribers', { name: 'victim' });
  const asVictim = apiClient(h.url, victim.body.api_key);
  assert.equal((await asVictim('GET', '/v1/endpoints')).status, 200);
  assert.equal((await admin('DELETE', `/v1/subscribers/${victim.body.id}`)).status, 204);
  await waitFor(
    'the revoked key to be refused',
    async () => (await asVictim('GET', '/v1/endpoints')).status === 401,
    8000,
    250,
  );
});
