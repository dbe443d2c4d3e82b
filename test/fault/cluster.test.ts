import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { natsNames } from '../../core/nats.js';
import { isolation } from '../helpers/env.js';
import { apiClient } from '../helpers/hookline.js';
import { longestPause, retriedByStatus, startPublishers } from '../helpers/publishers.js';
import { type NatsCluster, startNatsCluster } from '../helpers/nats-cluster.js';
import { type HooklineProcess, spawnHookline } from '../helpers/process.js';
import { startReceiver } from '../helpers/receiver.js';

// hookline on a real three-node NATS cluster (nats-server 2.15.2, R3 streams, the three
// URLs), one registry and two dispatchers as real processes, under keyed load with fan-out
// 4. First the server leading the most of the streams and consumers is SIGKILLed at a third
// of the load and started again at two thirds; then the same with a server lost for good.
// After each, the queue check of crash.test.ts: every acknowledged (message, endpoint) pair
// must be received; duplicates are allowed (at-least-once) and reported.
//
// HOOKLINE_TEST_TRACE=1 prints the backlog every 2 s while waiting and keeps every
// process's log in /tmp/hookline-cluster-*.log.

const MESSAGES = 1000;
const PUBLISHERS = 8;
const PATHS = ['/a', '/b', '/c', '/d'];
/** After the last accepted publish, every delivery must have arrived within this. */
const DRAIN_MS = 45_000;
const TRACE = !!process.env.HOOKLINE_TEST_TRACE;

const procs: HooklineProcess[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

let cluster: NatsCluster;
let api: ReturnType<typeof apiClient>;
let names: ReturnType<typeof natsNames>;
/** Receipts by `webhook-id path`, the scenario of each (`data.s`), and when they came. */
const received = new Map<string, number>();
const scenarioOf = new Map<string, string>();
const receipts: number[] = [];
const refused = new Set<string>();

before(
  async () => {
    cluster = await startNatsCluster(3);
    cleanups.push(() => cluster.close());
    const iso = isolation('cluster');
    cleanups.push(() => iso.cleanup());
    names = natsNames(iso.namespace);
    const r = await startReceiver(async (req, res) => {
      const key = `${req.headers['webhook-id']} ${req.path}`;
      await new Promise((done) => setTimeout(done, Math.random() * 5));
      // One delivery in twenty to /d fails its first attempt: its retry goes through the
      // parking stream (HOOKLINE_PARK_AFTER below the retry's delay) while servers die.
      if (req.path === '/d' && (req.json.data?.i as number) % 20 === 0 && !refused.has(key)) {
        refused.add(key);
        res.writeHead(503);
        res.end();
        return;
      }
      received.set(key, (received.get(key) ?? 0) + 1);
      scenarioOf.set(key, String(req.json.data?.s));
      receipts.push(Date.now());
      res.writeHead(200);
      res.end();
    });
    cleanups.push(() => r.close());
    const env = {
      HOOKLINE_ADDR: '127.0.0.1:0',
      HOOKLINE_NATS_URL: cluster.urls.join(','),
      HOOKLINE_STREAM_REPLICAS: '3',
      HOOKLINE_MONGODB_URL: iso.mongodbUrl,
      HOOKLINE_NAMESPACE: iso.namespace,
      HOOKLINE_ADMIN_TOKEN: 'adm',
      HOOKLINE_ALLOW_TARGETS: '127.0.0.0/8',
      HOOKLINE_VERIFY_ENDPOINTS: 'false',
      HOOKLINE_DELIVERY_TIMEOUT: '2s',
      HOOKLINE_RETRY_SCHEDULE: '1s,1s,2s,2s,5s,5s,5s,5s',
      HOOKLINE_PARK_AFTER: '500ms',
      HOOKLINE_LOG_LEVEL: 'info',
    };
    // All three at once: each creates the streams it needs, and the first to ask wins.
    const started = await Promise.allSettled([
      spawnHookline(['registry'], env),
      spawnHookline(['dispatcher'], env),
      spawnHookline(['dispatcher'], env),
    ]);
    for (const s of started) if (s.status === 'fulfilled') procs.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    api = apiClient((procs[0] as HooklineProcess).url, 'adm');
    assert.equal((await api('POST', '/v1/topics', { name: 'cluster.topic' })).status, 201);
    for (const p of PATHS) {
      const e = await api('POST', '/v1/endpoints', { url: r.url + p, topics: ['cluster.topic'] });
      assert.equal(e.status, 201);
    }
    const jsm = await cluster.jsm();
    for (const s of [names.eventsStream, names.deliveriesStream, names.parkedStream])
      assert.equal((await jsm.streams.info(s)).config.num_replicas, 3, `${s} is R3`);
  },
  { timeout: 60_000 },
);

/** The server leading the most of what the dispatchers' loops depend on, and what it leads. */
async function busiestLeader(): Promise<[number, string[]]> {
  const by = new Map<number, string[]>();
  const add = (i: number | null, role: string) => {
    if (i !== null) by.set(i, [...(by.get(i) ?? []), role]);
  };
  add(await cluster.leaderOf(names.deliveriesStream), 'deliveries stream');
  add(await cluster.leaderOf(names.deliveriesStream, names.deliverConsumer), 'deliver consumer');
  add(await cluster.leaderOf(names.eventsStream), 'events stream');
  add(await cluster.leaderOf(names.eventsStream, names.fanoutConsumer), 'fanout consumer');
  add(await cluster.leaderOf(names.parkedStream), 'parked stream');
  const top = [...by.entries()].sort((a, b) => b[1].length - a[1].length)[0];
  assert.ok(top, 'the streams have leaders');
  return top;
}

/** The consumers' and the parking stream's state, for a trace or a failure's report. */
async function backlog(): Promise<string> {
  const jsm = await cluster.jsm();
  const out: string[] = [];
  for (const [s, c] of [
    [names.eventsStream, names.fanoutConsumer],
    [names.deliveriesStream, names.deliverConsumer],
  ] as const) {
    const i = await jsm.consumers.info(s, c).catch((err: unknown) => String(err));
    out.push(
      typeof i === 'string'
        ? `${c}: ${i}`
        : `${c}: pending ${i.num_pending}, ack pending ${i.num_ack_pending}, pulls waiting ${i.num_waiting}, leader ${i.cluster?.leader}`,
    );
  }
  const parked = await jsm.streams
    .info(names.parkedStream, { subjects_filter: `${names.parkedPrefix}*` })
    .then((i) => `${i.state.messages} in ${Object.keys(i.state.subjects ?? {}).length} seconds`)
    .catch((err: unknown) => String(err));
  return `${out.join('; ')}; parked: ${parked}`;
}

function keepLogs(label: string) {
  for (const [k, p] of procs.entries())
    writeFileSync(`/tmp/hookline-cluster-${label}-p${k}.log`, p.stdout());
  writeFileSync(`/tmp/hookline-cluster-${label}-nats.log`, cluster.logs());
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function scenario(label: string, restart: boolean) {
  const [victim, led] = await busiestLeader();
  let killed: Promise<void> | null = null;
  let restarted: Promise<void> | null = null;
  let killedAt = 0;
  let restartedAt = 0;
  const startedAt = Date.now();
  const report = await startPublishers({
    url: () => (procs[0] as HooklineProcess).url,
    token: 'adm',
    topic: 'cluster.topic',
    prefix: label,
    publishers: PUBLISHERS,
    perPublisher: MESSAGES / PUBLISHERS,
    deadlineMs: 90_000,
    onAccepted(n) {
      if (!killed && n >= MESSAGES / 3) {
        killedAt = Date.now();
        killed = cluster.kill(victim);
      }
      if (restart && killed && !restarted && n >= (2 * MESSAGES) / 3) {
        restartedAt = Date.now();
        restarted = killed.then(() => cluster.start(victim));
      }
    },
  }).done;
  const load = { acknowledged: [...report.accepted.values()], acceptedAt: report.acceptedAt };
  const lastAccepted = Math.max(...load.acceptedAt);
  await restarted;
  assert.ok(killedAt > 0, 'a server was killed');

  const expected = load.acknowledged.flatMap((id) => PATHS.map((p) => `${id} ${p}`));
  const deadline = lastAccepted + DRAIN_MS;
  let traced = 0;
  while (Date.now() < deadline && !expected.every((k) => received.has(k))) {
    if (TRACE && Date.now() - traced > 2000) {
      traced = Date.now();
      const n = expected.filter((k) => received.has(k)).length;
      console.log(
        `${label} +${seconds(traced - lastAccepted)}: ${n}/${expected.length}, ${await backlog()}`,
      );
      keepLogs(label);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const lost = expected.filter((k) => !received.has(k));
  const mine = new Set(load.acknowledged);
  let duplicates = 0;
  // Receipts of messages this load never saw accepted: answered 503 although the stream
  // had stored them (a PubAck lost in the election), then sent again under the same key.
  let unacknowledged = 0;
  for (const [k, n] of received) {
    if (scenarioOf.get(k) !== label) continue;
    if (mine.has(k.split(' ')[0] as string)) duplicates += n - 1;
    else unacknowledged++;
  }
  console.log(
    `cluster test (${restart ? 'leader SIGKILLed, restarted' : 'a server lost for good'}): ` +
      `killed ${cluster.names[victim]} (leading ${led.join(', ')})` +
      (restartedAt ? `, restarted it ${seconds(restartedAt - killedAt)} later` : '') +
      `; ${load.acknowledged.length} accepted × ${PATHS.length} endpoints in ${seconds(lastAccepted - startedAt)}, ` +
      `${lost.length} lost, ${duplicates} duplicate receipts, ${unacknowledged} receipts of unaccepted messages; ` +
      `publishes paused ${seconds(longestPause(load.acceptedAt, killedAt, lastAccepted))}, ` +
      `deliveries paused ${seconds(longestPause(receipts, killedAt, lastAccepted))}, ` +
      `last delivery ${seconds(Math.max(...receipts) - lastAccepted)} after the last publish; ` +
      `answers retried ${JSON.stringify(retriedByStatus(report))}, ${refused.size} first attempts refused`,
  );
  if (TRACE) keepLogs(label);
  if (lost.length > 0) {
    console.log(`backlog: ${await backlog()}`);
    for (const p of procs)
      for (const l of p.stdout().split('\n').slice(-2000))
        if (/"level":(40|50)/.test(l) && !l.includes('message handling failed')) console.log(l);
    console.log(cluster.logs(/new (stream|consumer|metadata) leader/));
  }
  assert.deepEqual(report.stuck, [], 'every message accepted in time');
  assert.deepEqual(report.conflicting, [], 'one message per key');
  assert.equal(load.acknowledged.length, MESSAGES);
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} acknowledged deliveries lost`);
}

test('the server leading the streams SIGKILLed under load and restarted: nothing lost', async () => {
  await scenario('restart', true);
});

test('a server lost for good under load: nothing lost', async () => {
  // The restarted server has caught up, so losing another leaves a quorum of two.
  await cluster.healthy(30_000);
  await scenario('lost', false);
});
