import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sleep } from '../../core/lifecycle.js';
import { waitFor } from '../helpers/env.js';
import { allOnFixedPort, faultScope } from '../helpers/faults.js';
import { apiClient } from '../helpers/hookline.js';
import { kill } from '../helpers/process.js';

// An idempotency key must never outlive its message: a registry killed in the middle of a
// keyed publish leaves a key that the next request with it finishes, once.

const scope = faultScope();
after(() => scope.close());

test('a registry killed right after claiming a key: the retry with the key is accepted, delivered once', async () => {
  const s = await allOnFixedPort(scope, 'idemcrash');
  let p = await s.start({ HOOKLINE_TEST_CRASH_AT: 'publish.claimed' });
  const api = apiClient(s.url, 'adm');
  assert.equal((await api('POST', '/v1/topics', { name: 'idem.crash' })).status, 201);
  for (const path of ['/a', '/b'])
    assert.equal(
      (await api('POST', '/v1/endpoints', { url: s.receiverUrl + path, topics: ['idem.crash'] }))
        .status,
      201,
    );
  // The keyed publish kills the registry between claiming its key and publishing.
  const died = await api(
    'POST',
    '/v1/messages',
    { topic: 'idem.crash', data: { n: 1 } },
    {
      'idempotency-key': 'order-1',
    },
  ).catch((err: Error) => err);
  assert.ok(died instanceof Error, 'the request got no answer');
  assert.equal(await p.exited, 'SIGKILL');

  p = await s.start();
  const retry = await api(
    'POST',
    '/v1/messages',
    { topic: 'idem.crash', data: { n: 1 } },
    {
      'idempotency-key': 'order-1',
    },
  );
  assert.equal(retry.status, 202, JSON.stringify(retry.body));
  const again = await api(
    'POST',
    '/v1/messages',
    { topic: 'idem.crash', data: { n: 1 } },
    {
      'idempotency-key': 'order-1',
    },
  );
  assert.equal(again.status, 202);
  assert.equal(again.body.id, retry.body.id, 'later repeats answer the same message');
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  const id = retry.body.id as string;
  await waitFor('both deliveries', () => s.received.size === 2);
  await sleep(500);
  assert.deepEqual(
    [...s.received.entries()].sort(),
    [
      [`${id} /a`, 1],
      [`${id} /b`, 1],
    ],
    'delivered exactly once to each endpoint',
  );
  const listed = await api('GET', '/v1/messages?topic=idem.crash');
  assert.deepEqual(
    listed.body.data.map((m: { id: string }) => m.id),
    [id],
    'one message recorded for the key',
  );
  await kill(p, 'SIGKILL');
});
