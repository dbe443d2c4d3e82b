import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { isolation, NATS_URL, waitFor } from '../helpers/env.js';
import { apiClient, startTestHookline, subscribe } from '../helpers/hookline.js';
import { type HooklineProcess, spawnHookline } from '../helpers/process.js';
import { startTimingReceiver } from '../helpers/receiver.js';

// An endpoint's rate_limit, measured where it matters: at the receiver. One registry and
// two dispatchers as real processes share one endpoint with `rate_limit: 20` and a backlog
// of 300 messages (15 s of work at the limit). Every whole second after the first must
// bring 19 or 20 requests, and no 1 s window — anywhere, not only on whole seconds — more
// than 20. Every message must arrive exactly once.
//
// How it measures, so that it measures the limiter and not the machine (2 cores shared
// with other work): the processes are warmed up first (a few deliveries through the same
// path), so that no code is compiled on first use during the measurement; the receiver
// runs alone in a thread of its own; and that thread notes when it was held up (waiting for
// a CPU, tens of ms on a busy machine), because a request read after such a stall may have
// arrived at any moment during it. Each arrival is then known to lie between two times,
// and a second or a window fails only when it fails for every arrival time within those
// bounds: a stall of the instrument is not taken for a burst or a gap of the limiter, and
// an arrival is never moved past what the instrument saw. A receiver held up for more
// than a tenth of the time measured fails the test: the promise is checked, not assumed.

const RATE = 20;
const MESSAGES = 300;

const procs: HooklineProcess[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Time the machine's tasks spent waiting for a CPU (Linux PSI), in ms; null where unknown. */
function cpuWaitMs(): number | null {
  try {
    const m = /some .*total=(\d+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return m ? Number(m[1]) / 1000 : null;
  } catch {
    return null;
  }
}

/** An arrival read at `at` arrived at `at`, or — read right after a stall — no earlier than `from`. */
interface Seen {
  from: number;
  at: number;
}

function seen(times: number[], stalls: Array<[number, number]>): Seen[] {
  return times
    .map((at) => {
      // Read during a stall or within 5 ms of its end (what was waiting is read first).
      const stall = stalls.find(([from, to]) => at >= from && at <= to + 5);
      return { from: stall ? stall[0] : at, at };
    })
    .sort((a, b) => a.at - b.at);
}

/** Fewest and most arrivals there can have been in [start, start + 1000). */
function inSecond(arrivals: Seen[], start: number): { least: number; most: number } {
  let least = 0;
  let most = 0;
  for (const a of arrivals) {
    if (a.from >= start && a.at < start + 1000) least++;
    if (a.at >= start && a.from < start + 1000) most++;
  }
  return { least, most };
}

/** The most arrivals certainly within some 1 s window. */
function busiest(arrivals: Seen[]): number {
  let max = 0;
  for (let i = 0; i < arrivals.length; i++) {
    let earliest = Number.POSITIVE_INFINITY;
    let n = 0;
    for (let k = i; k < arrivals.length; k++) {
      const a = arrivals[k] as Seen;
      earliest = Math.min(earliest, a.from);
      if (a.at - earliest >= 1000) break;
      n++;
    }
    max = Math.max(max, n);
  }
  return max;
}

test('rate_limit 20 across two dispatchers: 19–20 requests in every second, never more than 20 in any', async () => {
  const iso = isolation('ratelimit');
  cleanups.push(() => iso.cleanup());
  // Alone in a thread of its own, so that its clock readings wait for nothing this test does.
  const r = await startTimingReceiver();
  cleanups.push(() => r.close());
  const arrivals = () => r.arrivals.filter((a) => !a.data?.warmup);
  const env = {
    HOOKLINE_ADDR: '127.0.0.1:0',
    HOOKLINE_NATS_URL: NATS_URL,
    HOOKLINE_MONGODB_URL: iso.mongodbUrl,
    HOOKLINE_NAMESPACE: iso.namespace,
    HOOKLINE_ADMIN_TOKEN: 'adm',
    HOOKLINE_ALLOW_TARGETS: '127.0.0.0/8',
    HOOKLINE_VERIFY_ENDPOINTS: 'false',
    HOOKLINE_LOG_LEVEL: 'info',
  };
  const registry = await spawnHookline(['registry'], env);
  procs.push(registry);
  const api = apiClient(registry.url, 'adm');
  assert.equal((await api('POST', '/v1/topics', { name: 'limited.topic' })).status, 201);
  const ep = await api('POST', '/v1/endpoints', {
    url: `${r.url}/hook`,
    topics: ['limited.topic'],
    rate_limit: RATE,
  });
  assert.equal(ep.status, 201, JSON.stringify(ep.body));
  // Both dispatchers load the endpoint at start: both take deliveries for it from the first.
  const denv = { ...env, HOOKLINE_METRICS_ADDR: '127.0.0.1:0' };
  const dispatchers = await Promise.all([
    spawnHookline(['dispatcher'], denv),
    spawnHookline(['dispatcher'], denv),
  ]);
  procs.push(...dispatchers);

  const warm = await api('POST', '/v1/messages/batch', {
    messages: Array.from({ length: 10 }, () => ({
      topic: 'limited.topic',
      data: { warmup: true },
    })),
  });
  assert.equal(warm.status, 202, JSON.stringify(warm.body));
  await waitFor('the warm-up deliveries', () => r.arrivals.length === 10, 20_000, 50);

  // The backlog, in three batches: the first is being delivered while the others arrive.
  const waitedBefore = cpuWaitMs();
  const published: string[] = [];
  for (let batch = 0; batch < 3; batch++) {
    const res = await api('POST', '/v1/messages/batch', {
      messages: Array.from({ length: MESSAGES / 3 }, (_, i) => ({
        topic: 'limited.topic',
        data: { batch, i },
      })),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    published.push(...res.body.data.map((m: { id: string }) => m.id));
  }
  // 300 at 20/s take 15 s; the bound leaves room for a slow start, not for a slower rate.
  await waitFor('every message to arrive', () => arrivals().length >= MESSAGES, 40_000, 100);
  const waited = cpuWaitMs();
  // How often a delivery was handed back to JetStream to wait for its turn, over both.
  let handedBack = 0;
  for (const d of dispatchers) {
    const url = /"url":"([^"]+)","msg":"metrics listening"/.exec(d.stdout())?.[1];
    const text = url
      ? await (await fetch(`${url}?name=hookline_deliveries_deferred_total`)).text()
      : '';
    handedBack += Number(/reason="rate_limited"} (\d+)/.exec(text)?.[1] ?? 0);
  }
  // Anything that would arrive twice arrives within a moment of the rest.
  await new Promise((done) => setTimeout(done, 1500));

  const got = arrivals();
  const times = got.map((a) => a.at).sort((a, b) => a - b);
  const first = times[0] as number;
  const last = times.at(-1) as number;
  const bounded = seen(times, r.stalls);
  const uncertain = bounded.filter((a) => a.from < a.at).length;
  let heldUp = 0;
  for (const [from, to] of r.stalls)
    heldUp += Math.max(0, Math.min(to, last) - Math.max(from, first));
  // Whole seconds counted from the first arrival, after the first, up to the last one that
  // ends before the last arrival (the backlog is not yet drained anywhere in them).
  const seconds: Array<{ least: number; most: number }> = [];
  for (let s = first + 1000; s + 1000 <= last; s += 1000) seconds.push(inSecond(bounded, s));
  const shown = seconds
    .map(({ least, most }) => (least === most ? `${least}` : `${least}–${most}`))
    .join(' ');
  const most = busiest(bounded);
  const mostAsRead = busiest(times.map((at) => ({ from: at, at })));
  const counts = new Map<string, number>();
  for (const a of got) counts.set(a.id, (counts.get(a.id) ?? 0) + 1);
  const duplicates = [...counts.values()].reduce((n, c) => n + c - 1, 0);
  const missing = published.filter((id) => !counts.has(id));
  console.log(
    `rate limit test: ${got.length} arrivals of ${MESSAGES} in ${last - first} ms, ` +
      `${(((got.length - 1) / (last - first)) * 1000).toFixed(2)}/s on average; ` +
      `per whole second after the first: ${shown}; busiest 1 s window: ${most} ` +
      `(as read: ${mostAsRead}); receiver held up ${heldUp} ms, ${uncertain} arrivals read after it; ` +
      `duplicates: ${duplicates}; missing: ${missing.length}; handed back to wait: ${handedBack}` +
      (waited !== null && waitedBefore !== null
        ? `; tasks waited for a CPU ${(((waited - waitedBefore) / (last - first)) * 100).toFixed(0)} % of the time`
        : ''),
  );

  assert.ok(seconds.length >= 10, `measured over ${seconds.length} whole seconds, not 10`);
  assert.ok(
    heldUp <= (last - first) / 10,
    `the receiver was held up too long to measure: ${heldUp} of ${last - first} ms`,
  );
  const off = seconds.filter((n) => n.most < RATE - 1 || n.least > RATE);
  assert.deepEqual(off, [], `whole seconds outside ${RATE - 1}–${RATE}: ${shown}`);
  assert.ok(most <= RATE, `${most} requests within one second (limit ${RATE})`);
  assert.deepEqual(missing, [], 'every published message arrives');
  assert.equal(duplicates, 0, 'no message arrives twice');
});

test('shutting down hands deliveries waiting for a slot straight back; they arrive once after a restart', async () => {
  // shutdownTimeout 5 s: a close() that waited for the deliveries in the lanes would take it.
  const h = await startTestHookline('ratelimitclose', { shutdownTimeout: '5s' });
  cleanups.push(() => h.close());
  const r = await startTimingReceiver();
  cleanups.push(() => r.close());
  await subscribe(h, 'closing.topic', `${r.url}/hook`, { rate_limit: 10 });
  const res = await h.api('POST', '/v1/messages/batch', {
    messages: Array.from({ length: 40 }, (_, i) => ({ topic: 'closing.topic', data: { i } })),
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  await waitFor('a few deliveries', () => r.arrivals.length >= 5, 20_000, 20);
  const started = Date.now();
  await h.running.close();
  const took = Date.now() - started;
  const before = r.arrivals.length;
  assert.ok(before < 40, 'deliveries were still waiting when it shut down');
  assert.ok(took < 2500, `close() took ${took} ms with deliveries waiting for slots`);
  await h.restart();
  await waitFor('every delivery after the restart', () => r.arrivals.length >= 40, 30_000, 50);
  await new Promise((done) => setTimeout(done, 500));
  const ids = r.arrivals.map((a) => a.id);
  console.log(
    `rate limit close: close() took ${took} ms with ${40 - before} deliveries not yet sent; ` +
      `${ids.length} arrivals in all, ${ids.length - new Set(ids).size} twice`,
  );
  assert.equal(new Set(ids).size, 40);
  assert.equal(ids.length, 40, 'no delivery handed back at shutdown was sent twice');
});
