import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sleep } from '../../core/lifecycle.js';
import { freePort, isolation, NATS_URL, waitFor } from '../helpers/env.js';
import { apiClient } from '../helpers/hookline.js';
import { type HooklineProcess, kill, spawnHookline } from '../helpers/process.js';
import { percentile, startPublishers } from '../helpers/publishers.js';
import { startReceiver } from '../helpers/receiver.js';

// An idempotency key must never outlive its message: a registry killed in the middle of a
// keyed publish leaves a key that the next request with it finishes, once.

const procs: HooklineProcess[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function setup(label: string) {
  const iso = isolation(label);
  cleanups.push(() => iso.cleanup());
  const received = new Map<string, number>();
  const r = await startReceiver((req, res) => {
    const k = `${req.headers['webhook-id']} ${req.path}`;
    received.set(k, (received.get(k) ?? 0) + 1);
    res.writeHead(200);
    res.end();
  });
  cleanups.push(() => r.close());
  const port = await freePort();
  const env = {
    HOOKLINE_ADDR: `127.0.0.1:${port}`,
    HOOKLINE_NATS_URL: NATS_URL,
    HOOKLINE_MONGODB_URL: iso.mongodbUrl,
    HOOKLINE_NAMESPACE: iso.namespace,
    HOOKLINE_ADMIN_TOKEN: 'adm',
    HOOKLINE_ALLOW_TARGETS: '127.0.0.0/8',
    HOOKLINE_VERIFY_ENDPOINTS: 'false',
    HOOKLINE_LOG_LEVEL: 'info',
  };
  const start = async (extra: Record<string, string> = {}) => {
    const p = await spawnHookline(['all'], { ...env, ...extra });
    procs.push(p);
    return p;
  };
  return { received, receiverUrl: r.url, url: `http://127.0.0.1:${port}`, start };
}

test('a registry killed right after claiming a key: the retry with the key is accepted, delivered once', async () => {
  const s = await setup('idemcrash');
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

test('keyed publishers through two SIGKILLs of hookline: every message accepted, none lost', async () => {
  const s = await setup('idemload');
  let p = await s.start();
  const api = apiClient(s.url, 'adm');
  assert.equal((await api('POST', '/v1/topics', { name: 'idem.load' })).status, 201);
  const paths = ['/a', '/b'];
  for (const path of paths)
    assert.equal(
      (await api('POST', '/v1/endpoints', { url: s.receiverUrl + path, topics: ['idem.load'] }))
        .status,
      201,
    );
  const total = 16 * 100;
  let killing: Promise<void> | null = null;
  const kills: number[] = [];
  const load = startPublishers({
    url: () => s.url,
    token: 'adm',
    topic: 'idem.load',
    publishers: 16,
    perPublisher: 100,
    deadlineMs: 90_000,
    onAccepted: (n) => {
      if (
        killing ||
        ((n < total / 3 || kills.length > 0) && (n < (2 * total) / 3 || kills.length > 1))
      )
        return;
      killing = (async () => {
        kills.push(Date.now());
        assert.equal(await kill(p, 'SIGKILL'), 'SIGKILL');
        p = await s.start();
        killing = null;
      })();
    },
  });
  const report = await load.done;
  await killing;
  assert.equal(kills.length, 2, 'killed twice under load');
  const expected = [...report.accepted.values()].flatMap((id) => paths.map((x) => `${id} ${x}`));
  await waitFor(
    'every accepted message at every endpoint',
    () => expected.every((k) => s.received.has(k)),
    60_000,
    200,
  );
  const lost = expected.filter((k) => !s.received.has(k));
  const duplicates = [...s.received.values()].reduce((n, c) => n + c - 1, 0);
  console.log(
    `idempotency under SIGKILL: ${report.accepted.size}/${total} accepted, ${lost.length} lost, ${duplicates} duplicate receipts, ${report.failures.length} failed tries (${report.stuck.length} keys stuck), p99 accepted ${percentile(report.latencies, 99)} ms`,
  );
  assert.deepEqual(report.stuck, [], 'no key is stuck');
  assert.equal(report.accepted.size, total);
  assert.deepEqual(report.conflicting, [], 'one message per key');
  assert.deepEqual(lost, []);
  const unexpected = [...s.received.keys()].filter((k) => !expected.includes(k));
  assert.deepEqual(unexpected, [], 'nothing but the accepted messages, one per key');
  await kill(p, 'SIGKILL');
});
