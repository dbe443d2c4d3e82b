import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { isolation, NATS_URL, waitFor } from '../helpers/env.js';
import { apiClient } from '../helpers/hookline.js';
import { type HooklineProcess, kill, spawnHookline } from '../helpers/process.js';
import { startReceiver } from '../helpers/receiver.js';

// A cluster of real processes under load — one registry, two dispatchers — with each
// dispatcher SIGKILLed and restarted while messages flow. Then the queue check of Jepsen:
// every (acknowledged message, endpoint) pair must have been received; duplicates are
// allowed (at-least-once) and reported.

const procs: HooklineProcess[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

test('SIGKILL dispatchers twice under load: acknowledged minus received is empty', async () => {
  const iso = isolation('crash');
  cleanups.push(() => iso.cleanup());
  const received = new Map<string, number>();
  const refused = new Set<string>();
  const r = await startReceiver(async (req, res) => {
    const key = `${req.headers['webhook-id']} ${req.path}`;
    await new Promise((done) => setTimeout(done, Math.random() * 20));
    // A quarter of the deliveries fail their first attempt: their retries are parked
    // (HOOKLINE_PARK_AFTER below their delay) while dispatchers are killed.
    if ((req.json.data?.i as number) % 4 === 0 && !refused.has(key)) {
      refused.add(key);
      res.writeHead(503);
      res.end();
      return;
    }
    received.set(key, (received.get(key) ?? 0) + 1);
    res.writeHead(200);
    res.end();
  });
  cleanups.push(() => r.close());
  const env = {
    HOOKLINE_ADDR: '127.0.0.1:0',
    HOOKLINE_NATS_URL: NATS_URL,
    HOOKLINE_MONGODB_URL: iso.mongodbUrl,
    HOOKLINE_NAMESPACE: iso.namespace,
    HOOKLINE_ADMIN_TOKEN: 'adm',
    HOOKLINE_ALLOW_TARGETS: '127.0.0.0/8',
    HOOKLINE_VERIFY_ENDPOINTS: 'false',
    HOOKLINE_DELIVERY_TIMEOUT: '2s',
    HOOKLINE_RETRY_SCHEDULE: '1s,200ms,500ms,1s,1s,2s,2s,5s,5s',
    HOOKLINE_PARK_AFTER: '150ms',
    HOOKLINE_LOG_LEVEL: 'info',
  };
  const registry = await spawnHookline(['registry'], env);
  procs.push(registry);
  const dispatcher = async () => {
    const p = await spawnHookline(['dispatcher'], env);
    procs.push(p);
    return p;
  };
  let d1 = await dispatcher();
  let d2 = await dispatcher();
  const api = apiClient(registry.url, 'adm');
  await api('POST', '/v1/topics', { name: 'crash.topic' });
  const paths = ['/a', '/b', '/c'];
  for (const p of paths)
    assert.equal(
      (await api('POST', '/v1/endpoints', { url: r.url + p, topics: ['crash.topic'] })).status,
      201,
    );

  const acknowledged: string[] = [];
  let killed = 0;
  for (let batch = 0; batch < 20; batch++) {
    const res = await api('POST', '/v1/messages/batch', {
      messages: Array.from({ length: 15 }, (_, i) => ({
        topic: 'crash.topic',
        data: { batch, i },
      })),
    });
    if (res.status === 202) acknowledged.push(...res.body.data.map((m: { id: string }) => m.id));
    if (batch === 6) {
      assert.equal(await kill(d1, 'SIGKILL'), 'SIGKILL');
      killed++;
      d1 = await dispatcher();
    }
    if (batch === 12) {
      assert.equal(await kill(d2, 'SIGKILL'), 'SIGKILL');
      killed++;
      d2 = await dispatcher();
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  assert.equal(killed, 2);
  assert.equal(acknowledged.length, 300);

  const expected = acknowledged.flatMap((id) => paths.map((p) => `${id} ${p}`));
  await waitFor(
    'every acknowledged delivery',
    () => expected.every((k) => received.has(k)),
    90_000,
    200,
  );
  const lost = expected.filter((k) => !received.has(k));
  const duplicates = [...received.values()].reduce((n, c) => n + (c - 1), 0);
  console.log(
    `crash test: ${acknowledged.length} acknowledged × ${paths.length} endpoints, ${lost.length} lost, ${duplicates} duplicate receipts, ${refused.size} first attempts refused and retried`,
  );
  assert.ok(refused.size >= 200, 'retries were exercised');
  assert.deepEqual(lost, []);
  const unexpected = [...received.keys()].filter((k) => !expected.includes(k));
  assert.deepEqual(unexpected, [], 'nothing that was not published');
});
