import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sleep } from '../../core/lifecycle.js';
import { waitFor } from '../helpers/env.js';
import { apiClient, startTestHookline, type TestHookline } from '../helpers/hookline.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

// hookline's own events are about one owner's objects: a subscriber's endpoint never
// receives another owner's, by subscribing to the system topic or by any other way.

let h: TestHookline;
const receivers: Receiver[] = [];
after(async () => {
  for (const r of receivers) await r.close();
  await h?.close();
});

async function receiver(handler?: Parameters<typeof startReceiver>[0]) {
  const r = await startReceiver(handler);
  receivers.push(r);
  return r;
}

before(async () => {
  h = await startTestHookline('sysevents', { retrySchedule: '100ms' });
});

test('hookline.endpoint.disabled reaches only the owner of the endpoint, and the admin', async () => {
  const admin = apiClient(h.url);
  assert.equal((await admin('POST', '/v1/topics', { name: 'tenancy.topic' })).status, 201);
  // Each endpoint answers 410, which disables it at once.
  const gone = await receiver((_req, res) => {
    res.writeHead(410);
    res.end();
  });
  const tenants: Record<string, { key: string; endpoint: string; watcher: Receiver }> = {};
  for (const name of ['alice', 'bob']) {
    const sub = await admin('POST', '/v1/subscribers', { name });
    assert.equal(sub.status, 201);
    const as = apiClient(h.url, sub.body.api_key);
    const watcher = await receiver();
    const w = await as('POST', '/v1/endpoints', {
      url: `${watcher.url}/${name}`,
      topics: ['hookline.endpoint.disabled'],
    });
    assert.equal(w.status, 201, JSON.stringify(w.body));
    const doomed = await as('POST', '/v1/endpoints', {
      url: `${gone.url}/${name}`,
      topics: ['tenancy.topic'],
    });
    assert.equal(doomed.status, 201, JSON.stringify(doomed.body));
    tenants[name] = { key: sub.body.api_key, endpoint: doomed.body.id, watcher };
  }
  const adminWatcher = await receiver();
  assert.equal(
    (
      await admin('POST', '/v1/endpoints', {
        url: adminWatcher.url,
        topics: ['hookline.endpoint.disabled'],
      })
    ).status,
    201,
  );

  assert.equal(
    (await admin('POST', '/v1/messages', { topic: 'tenancy.topic', data: { n: 1 } })).status,
    202,
  );
  await waitFor('both disabled endpoints reported to the admin', () =>
    adminWatcher.events.length >= 2 ? true : null,
  );
  for (const [name, t] of Object.entries(tenants)) {
    await waitFor(`${name}'s own report`, () => t.watcher.events.length >= 1);
  }
  // Whatever else was under way has had time to arrive.
  await sleep(500);
  const reported = (r: Receiver) =>
    r.events.map((e) => (JSON.parse(e.body) as { data: { endpoint_id: string } }).data.endpoint_id);
  assert.deepEqual(
    reported(adminWatcher).sort(),
    [tenants.alice?.endpoint, tenants.bob?.endpoint].sort(),
  );
  for (const t of Object.values(tenants)) assert.deepEqual(reported(t.watcher), [t.endpoint]);
  // And through the API: a subscriber's deliveries are its own endpoints' alone.
  const alice = tenants.alice as (typeof tenants)[string];
  const listed = await apiClient(h.url, alice.key)('GET', '/v1/deliveries?limit=1000');
  assert.equal(listed.status, 200);
  const aliceEndpoints = new Set(
    (await apiClient(h.url, alice.key)('GET', '/v1/endpoints')).body.data.map(
      (e: { id: string }) => e.id,
    ),
  );
  assert.ok(listed.body.data.length >= 2);
  for (const d of listed.body.data) assert.ok(aliceEndpoints.has(d.endpoint_id), d.endpoint_id);
});

test("nobody but hookline creates or publishes hookline's own topics", async () => {
  const admin = apiClient(h.url);
  const created = await admin('POST', '/v1/topics', { name: 'hookline.custom' });
  assert.equal(created.status, 422);
  assert.match(created.body.error.message, /reserved/);
  const one = await admin('POST', '/v1/messages', {
    topic: 'hookline.endpoint.disabled',
    data: { endpoint_id: 'ep_forged' },
  });
  assert.equal(one.status, 403);
  assert.equal(one.body.error.code, 'forbidden');
  const batch = await admin('POST', '/v1/messages/batch', {
    messages: [
      { topic: 'tenancy.topic', data: 1 },
      { topic: 'hookline.endpoint.disabled', data: 2 },
    ],
  });
  assert.equal(batch.status, 403);
  assert.match(batch.body.error.message, /messages\[1\]/);
  const forged = (await admin('GET', '/v1/messages?topic=hookline.endpoint.disabled')).body.data;
  assert.ok(!JSON.stringify(forged).includes('ep_forged'), 'nothing forged was stored');
  const plain = await admin('GET', '/v1/messages?topic=tenancy.topic');
  assert.equal(plain.body.data.length, 1, 'the refused batch stored nothing');
});
