/**
 * The harness of the fault tests (test/fault/): real hookline processes on fixed ports, in
 * namespaces of their own, with receivers counting receipts; keyed publishers under load
 * while the test takes a process or a backing service away and brings it back; and the
 * checks every outage must pass — every publish answered (a 503 within a bound, never a
 * hang) and every accepted message delivered to every endpoint.
 */
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import { freePort, isolation, NATS_URL, waitFor } from './env.js';
import { apiClient } from './hookline.js';
import { type HooklineProcess, spawnHookline } from './process.js';
import { percentile, type PublishReport, rssMb, startPublishers } from './publishers.js';
import { startReceiver } from './receiver.js';

/** What a fault test started, stopped and removed at its end, even when it fails. */
export interface FaultScope {
  procs: HooklineProcess[];
  cleanups: Array<() => Promise<unknown>>;
  close(): Promise<void>;
}

export function faultScope(): FaultScope {
  const procs: HooklineProcess[] = [];
  const cleanups: Array<() => Promise<unknown>> = [];
  return {
    procs,
    cleanups,
    async close() {
      for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    },
  };
}

/**
 * A receiver on 127.0.0.1 that answers 200 and counts receipts by `webhook-id` and path,
 * and a free port for the registry under test.
 */
async function countingReceiver(scope: FaultScope) {
  const received = new Map<string, number>();
  const r = await startReceiver((req, res) => {
    const k = `${req.headers['webhook-id']} ${req.path}`;
    received.set(k, (received.get(k) ?? 0) + 1);
    res.writeHead(200);
    res.end();
  });
  scope.cleanups.push(() => r.close());
  return { received, receiverUrl: r.url, port: await freePort() };
}

/** The settings every process of a fault test runs with. */
function processEnv(port: number, natsUrl: string, mongodbUrl: string, namespace: string) {
  return {
    HOOKLINE_ADDR: `127.0.0.1:${port}`,
    HOOKLINE_NATS_URL: natsUrl,
    HOOKLINE_MONGODB_URL: mongodbUrl,
    HOOKLINE_NAMESPACE: namespace,
    HOOKLINE_ADMIN_TOKEN: 'adm',
    HOOKLINE_ALLOW_TARGETS: '127.0.0.0/8',
    HOOKLINE_VERIFY_ENDPOINTS: 'false',
    HOOKLINE_LOG_LEVEL: 'info',
  };
}

/**
 * `hookline all` as a real process on a fixed port (so that it can be killed and started
 * again where publishers expect it), in a namespace of its own, and a receiver counting
 * what each endpoint path got.
 */
export async function allOnFixedPort(scope: FaultScope, label: string) {
  const { cleanups, procs } = scope;
  const iso = isolation(label);
  cleanups.push(() => iso.cleanup());
  const { received, receiverUrl, port } = await countingReceiver(scope);
  const env = processEnv(port, NATS_URL, iso.mongodbUrl, iso.namespace);
  const start = async (extra: Record<string, string> = {}) => {
    const p = await spawnHookline(['all'], { ...env, ...extra });
    procs.push(p);
    return p;
  };
  return { received, receiverUrl, url: `http://127.0.0.1:${port}`, start };
}

/** What a publish may take to answer while a backing service is away. */
export const ANSWER_BOUND_MS = 8_000;

export async function system(
  scope: FaultScope,
  label: string,
  over: { mongodbBase?: string; natsUrl?: string },
) {
  const { cleanups, procs } = scope;
  const iso = isolation(label);
  const natsUrl = over.natsUrl ?? NATS_URL;
  const mongodbUrl = over.mongodbBase ? `${over.mongodbBase}/${iso.namespace}` : iso.mongodbUrl;
  // An own server goes with its store; what is on the machine's is removed.
  if (!over.natsUrl) cleanups.push(() => iso.cleanup());
  else
    cleanups.push(async () => {
      const client = await MongoClient.connect(mongodbUrl);
      await client.db().dropDatabase();
      await client.close();
    });
  const { received, receiverUrl, port } = await countingReceiver(scope);
  const env = {
    ...processEnv(port, natsUrl, mongodbUrl, iso.namespace),
    HOOKLINE_RETRY_SCHEDULE: '500ms,1s,2s,2s,5s,5s,5s',
  };
  const registry = await spawnHookline(['registry'], env);
  const dispatcher = await spawnHookline(['dispatcher'], env);
  procs.push(registry, dispatcher);
  const url = `http://127.0.0.1:${port}`;
  const api = apiClient(url, 'adm');
  assert.equal((await api('POST', '/v1/topics', { name: 'outage.topic' })).status, 201);
  const paths = ['/a', '/b'];
  for (const p of paths)
    assert.equal(
      (await api('POST', '/v1/endpoints', { url: receiverUrl + p, topics: ['outage.topic'] }))
        .status,
      201,
    );
  return { url, received, paths, registry, dispatcher };
}

/**
 * Runs keyed publishers; when a third is accepted, `outage` takes the service away and
 * brings it back. Returns the report and the outage's window.
 */
export type System = Awaited<ReturnType<typeof system>>;

export async function underLoad(
  url: string,
  outage: () => Promise<{ downAt: number; upAt: number }>,
): Promise<{ report: PublishReport; downAt: number; upAt: number; total: number }> {
  const total = 8 * 150;
  let window: Promise<{ downAt: number; upAt: number }> | null = null;
  const load = startPublishers({
    url: () => url,
    token: 'adm',
    topic: 'outage.topic',
    publishers: 8,
    perPublisher: 150,
    deadlineMs: 120_000,
    onAccepted: (n) => {
      if (n >= total / 3 && !window) window = outage();
    },
  });
  const report = await load.done;
  assert.ok(window, 'the outage happened under load');
  return { report, total, ...(await (window as Promise<{ downAt: number; upAt: number }>)) };
}

export async function check(
  what: string,
  s: System,
  run: Awaited<ReturnType<typeof underLoad>>,
  rssBefore: number[],
) {
  const { report, total, downAt, upAt } = run;
  const expected = [...report.accepted.values()].flatMap((id) => s.paths.map((p) => `${id} ${p}`));
  await waitFor(
    'every accepted message at every endpoint',
    () => expected.every((k) => s.received.has(k)),
    60_000,
    200,
  );
  const drained = Date.now() - Math.max(...report.acceptedAt);
  const lost = expected.filter((k) => !s.received.has(k));
  const wanted = new Set(expected);
  const unexpected = [...s.received.keys()].filter((k) => !wanted.has(k));
  const duplicates = [...s.received.values()].reduce((n, c) => n + c - 1, 0);
  const during = report.failures.filter((f) => f.at >= downAt - 1000);
  const slowest = Math.max(0, ...report.failures.map((f) => f.ms));
  const recovered = (report.acceptedAt.find((t) => t >= upAt) ?? Number.NaN) - upAt;
  const rssAfter = [
    await rssMb(s.registry.child.pid ?? 0),
    await rssMb(s.dispatcher.child.pid ?? 0),
  ];
  const codes = [...new Set(report.failures.map((f) => `${f.status} ${f.code}`))];
  console.log(
    `${what}: ${report.accepted.size}/${total} accepted, ${lost.length} lost, ${duplicates} duplicate receipts; ${during.length} publishes refused (${codes.join(', ')}), slowest answer ${slowest} ms, ${report.timeouts} client timeouts; first 202 ${recovered} ms after it was back, every delivery made ${drained} ms after the last 202; p99 accepted ${percentile(report.latencies, 99)} ms; RSS registry ${rssBefore[0]}→${rssAfter[0]} MB, dispatcher ${rssBefore[1]}→${rssAfter[1]} MB`,
  );
  if (report.failures.some((f) => f.status !== 503)) {
    const errors = s.registry
      .stdout()
      .split('\n')
      .filter((l) => /"level":(50|40)/.test(l));
    console.log(`registry errors:\n${errors.slice(0, 3).join('\n')}`);
  }
  assert.ok(during.length > 0, 'publishes during the outage were refused');
  for (const f of report.failures) {
    assert.equal(f.status, 503, `a refused publish answers 503 (got ${f.status} ${f.code})`);
    assert.ok(f.code === 'unavailable' || f.code === 'publish_failed', `code ${f.code}`);
  }
  assert.ok(slowest <= ANSWER_BOUND_MS, `every publish answered within ${ANSWER_BOUND_MS} ms`);
  assert.equal(report.timeouts, 0);
  assert.deepEqual(report.stuck, []);
  assert.equal(report.accepted.size, total);
  assert.deepEqual(report.conflicting, []);
  assert.deepEqual(lost, []);
  assert.deepEqual(unexpected, [], 'nothing but the accepted messages');
  assert.equal(s.registry.child.exitCode, null, 'the registry is still running');
  assert.equal(s.dispatcher.child.exitCode, null, 'the dispatcher is still running');
  for (const [i, before] of rssBefore.entries())
    assert.ok(
      (rssAfter[i] ?? 0) < before + 200,
      `memory stays bounded (${before}→${rssAfter[i]} MB)`,
    );
}
