import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { waitFor } from '../helpers/env.js';
import { allOnFixedPort, faultScope } from '../helpers/faults.js';
import { apiClient } from '../helpers/hookline.js';
import { kill } from '../helpers/process.js';
import { percentile, startPublishers } from '../helpers/publishers.js';

// Careful publishers (each retrying with its key until a 202) through two SIGKILLs of
// hookline: every message accepted, once, and delivered to every endpoint.

const scope = faultScope();
after(() => scope.close());

test('keyed publishers through two SIGKILLs of hookline: every message accepted, none lost', async () => {
  const s = await allOnFixedPort(scope, 'idemload');
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
