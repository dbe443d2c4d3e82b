import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { Worker } from 'node:worker_threads';
import { MongoClient } from 'mongodb';
import { connect } from 'nats';
import { Agent, Pool, request } from 'undici';
import type { Config } from '../core/config.js';
import { postJson } from '../core/egress.js';
import { deleteNamespaceStreams, natsNames } from '../core/nats.js';

/**
 * `hookline bench`: measures hookline on this machine. It starts its own `hookline all`
 * (a child process, its own namespace and database, verification off, loopback allowed)
 * and its own receiver (a worker thread), then runs:
 *
 *   loopback    the raw POST rate of undici to the receiver: the machine's ceiling
 *   throughput  messages published in batches, fanned out to N endpoints, every attempt recorded
 *   latency     publish-to-receipt at a fixed rate, one endpoint
 *   fanout      one message to many endpoints: time until every delivery is stored
 *   backlog     fresh deliveries while many wait for a retry, and the process's memory
 *   client      hookline's HTTP client (core/egress.ts postJson, on undici's dispatch)
 *               against undici's request API, on the same receiver (only with --only)
 */
export interface BenchOptions {
  phases: string[];
  messages: number;
  fanout: number;
  rate: number;
  seconds: number;
  wideFanout: number;
  backlog: number;
  /** Dispatcher processes: `hookline all` and, beyond the first, `hookline dispatcher`s. */
  dispatchers: number;
  json: boolean;
}

interface Stats {
  count: number;
  failed: number;
  first: number;
  last: number;
  latencies: number[];
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `post` 64 at a time for `seconds`; how many were done. */
async function postFor(seconds: number, post: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (Date.now() < until) {
        await post();
        n++;
      }
    }),
  );
  return n;
}

async function startReceiver() {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(
    fromSource ? './receiver-worker.ts' : './receiver-worker.js',
    import.meta.url,
  );
  // Run from source (tsx), the worker registers tsx itself: loader flags do not reach workers.
  const worker = fromSource
    ? new Worker(
        `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); });`,
        { eval: true },
      )
    : new Worker(url);
  const port = await new Promise<number>((resolve) => {
    worker.once('message', (m: { port: number }) => resolve(m.port));
  });
  const ask = <T>(kind: string) =>
    new Promise<T>((resolve) => {
      if (kind !== 'stats') {
        worker.postMessage({ kind });
        resolve(undefined as T);
        return;
      }
      worker.once('message', (m: T) => resolve(m));
      worker.postMessage({ kind });
    });
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => ask<Stats>('stats'),
    reset: () => ask<void>('reset'),
    close: async () => {
      worker.postMessage({ kind: 'close' });
      await worker.terminate().catch(() => undefined);
    },
  };
}

/** The hookline processes the bench started, ended with it even when it is interrupted. */
const children = new Set<ChildProcess>();
let onSignal: ((signal: NodeJS.Signals) => void) | null = null;
function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (onSignal) return;
  onSignal = (signal) => {
    for (const c of children) c.kill('SIGTERM');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

/**
 * `hookline all` (command `all`, answering on the URL returned) or a further `hookline
 * dispatcher` (serving /metrics on the URL returned), on the bench's namespace.
 */
async function startHooklineChild(
  config: Config,
  namespace: string,
  token: string,
  command: 'all' | 'dispatcher' = 'all',
) {
  const entry = process.argv[1] as string;
  const dbUrl = config.mongodbUrl.replace(/\/[^/?]*(\?|$)/, `/${namespace}$1`);
  // The heap limit docs/operations.md recommends for a dispatcher: V8 otherwise grows its
  // heap lazily towards its default limit, and RSS with it, though little of it is live.
  const child: ChildProcess = spawn(
    process.execPath,
    [...process.execArgv, '--max-old-space-size=128', entry, command],
    {
      env: {
        ...process.env,
        HOOKLINE_ADDR: '127.0.0.1:0',
        HOOKLINE_METRICS_ADDR: command === 'dispatcher' ? '127.0.0.1:0' : '',
        HOOKLINE_NAMESPACE: namespace,
        HOOKLINE_MONGODB_URL: dbUrl,
        HOOKLINE_NATS_URL: config.natsUrl.join(','),
        HOOKLINE_ADMIN_TOKEN: token,
        HOOKLINE_VERIFY_ENDPOINTS: 'false',
        HOOKLINE_ALLOW_TARGETS: '127.0.0.0/8',
        HOOKLINE_LOG_LEVEL: 'info',
        HOOKLINE_ENDPOINT_CONCURRENCY: String(Math.max(config.endpointConcurrency, 64)),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  track(child);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.length > 100_000) out = out.slice(-10_000);
  });
  const deadline = Date.now() + 60_000;
  const ready =
    command === 'all'
      ? /"url":"(http:\/\/[^"]+)","msg":"registry listening"/
      : /"url":"(http:\/\/[^"]+)\/metrics","msg":"metrics listening"/;
  while (Date.now() < deadline) {
    const m = ready.exec(out);
    if (m?.[1]) return { child, url: m[1], dbUrl };
    if (child.exitCode !== null) throw new Error(`hookline exited: ${out}`);
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error('hookline did not start');
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

export async function runBench(
  config: Config,
  opts: BenchOptions,
): Promise<Record<string, unknown>> {
  const namespace = `bench_${randomBytes(3).toString('hex')}`;
  const token = randomBytes(16).toString('hex');
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    namespace,
  };
  const log = (s: string) => {
    if (!opts.json) process.stdout.write(`${s}\n`);
  };
  const receiver = await startReceiver();
  const hl = await startHooklineChild(config, namespace, token);
  const extra: Array<Awaited<ReturnType<typeof startHooklineChild>>> = [];
  for (let i = 1; i < opts.dispatchers; i++)
    extra.push(await startHooklineChild(config, namespace, token, 'dispatcher'));
  const processes = [hl, ...extra];
  if (extra.length > 0) log(`dispatchers  hookline all and ${extra.length} hookline dispatcher`);
  report.dispatchers = opts.dispatchers;
  const mongo = await MongoClient.connect(hl.dbUrl);
  const deliveries = mongo.db().collection('deliveries');
  const outcomes = mongo.db().collection('outcomes');
  const nc = await connect({ servers: config.natsUrl });
  const jsm = await nc.jetstreamManager();
  const names = natsNames(namespace);
  // The bench's own client: undici's request on a pool, at about half the CPU of fetch, so
  // that publishing takes less of the machine the measured processes share.
  const apiPool = new Pool(hl.url, { connections: 16 });
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await apiPool.request({
      method: method as 'GET' | 'POST',
      path,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300)
      throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };
  let endpointsCreated = 0;
  const createEndpoints = async (topic: string, n: number, path = '/ok') => {
    await api('POST', '/v1/topics', { name: topic }).catch(() => undefined);
    let made = 0;
    const worker = async () => {
      while (made < n) {
        made++;
        await api('POST', '/v1/endpoints', { url: `${receiver.url}${path}`, topics: [topic] });
        endpointsCreated++;
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  };
  const publishBatches = async (topic: string, total: number, data: (i: number) => unknown) => {
    let sent = 0;
    const worker = async () => {
      while (sent < total) {
        const size = Math.min(200, total - sent);
        const start = sent;
        sent += size;
        await api('POST', '/v1/messages/batch', {
          messages: Array.from({ length: size }, (_, k) => ({ topic, data: data(start + k) })),
        });
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
  };
  const waitCount = async (
    filter: Record<string, unknown>,
    n: number,
    timeoutMs: number,
    col = deliveries,
  ) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = await col.countDocuments(filter);
      if (c >= n) return Date.now();
      if (Date.now() > deadline)
        throw new Error(`only ${c} of ${n} deliveries matched ${JSON.stringify(filter)}`);
      await sleep(250); // each count is a scan on FerretDB: do not compete with what is measured
    }
  };
  const metricsOf = async (p: { url: string }, series: readonly string[]) => {
    // Only these series: a full scrape asks JetStream for the backlog gauges, load the
    // bench would add to what it measures when it polls every 25 ms.
    const wanted = new Set(series.map((s) => s.split('{')[0] as string));
    const query = [...wanted].map((name) => `name=${encodeURIComponent(name)}`).join('&');
    const lines = (await (await fetch(`${p.url}/metrics?${query}`)).text()).split('\n');
    return series.map((name) => {
      const line = lines.find((l) => l.startsWith(`${name} `));
      return line ? Number(line.slice(name.length + 1)) : 0;
    });
  };
  const metricOf = async (p: { url: string }, series: string) =>
    (await metricsOf(p, [series]))[0] as number;
  // Summed over every dispatcher process.
  const metricValues = async (series: readonly string[]) => {
    const sums = series.map(() => 0);
    for (const p of processes) {
      const values = await metricsOf(p, series);
      for (const [i, v] of values.entries()) sums[i] = (sums[i] as number) + v;
    }
    return sums;
  };
  /** When each series reached its target, all polled together: one scrape per process per turn. */
  const waitMetrics = async (targets: ReadonlyArray<[string, number]>, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    const reached: Array<number | null> = targets.map(() => null);
    for (;;) {
      const values = await metricValues(targets.map(([name]) => name));
      for (const [i, [, n]] of targets.entries())
        if (reached[i] === null && (values[i] as number) >= n) reached[i] = Date.now();
      if (reached.every((r) => r !== null)) return reached as number[];
      if (Date.now() > deadline)
        throw new Error(`metrics reached only ${values.join(', ')} of ${targets.map((t) => t[1])}`);
      await sleep(25);
    }
  };
  const waitMetric = async (series: string, n: number, timeoutMs: number) =>
    (await waitMetrics([[series, n]], timeoutMs))[0] as number;
  const waitReceived = async (n: number, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await receiver.stats();
      if (s.count >= n) return s;
      if (process.env.HOOKLINE_BENCH_DEBUG)
        process.stderr.write(`received ${s.count}/${n}, failed ${s.failed}\n`);
      if (Date.now() > deadline) throw new Error(`received only ${s.count} of ${n}`);
      await sleep(25);
    }
  };

  try {
    if (opts.phases.includes('loopback')) {
      const pool = new Pool(receiver.url, { connections: 64 });
      const body = JSON.stringify({
        type: 'bench',
        timestamp: new Date().toISOString(),
        data: { pad: 'x'.repeat(200) },
      });
      // undici's dispatch, the primitive hookline's deliveries use (core/egress.ts): the
      // ceiling is what the same HTTP client does with nothing else to do.
      const post = () =>
        new Promise<void>((resolve, reject) => {
          pool.dispatch(
            {
              path: '/ok',
              method: 'POST',
              body,
              headers: { 'content-type': 'application/json' },
            },
            {
              onRequestStart: () => undefined,
              onResponseError: (_c, err) => reject(err),
              onResponseEnd: () => resolve(),
            },
          );
        });
      const started = Date.now();
      const n = await postFor(opts.seconds, post);
      const rate = Math.round(n / ((Date.now() - started) / 1000));
      await pool.close();
      report.loopback_posts_per_sec = rate;
      log(
        `loopback     ${rate} POST/s (undici's dispatch → node:http on 127.0.0.1, 64 connections, ${opts.seconds} s)`,
      );
      await receiver.reset();
    }

    if (opts.phases.includes('client')) {
      // The same receiver, 64 requests at a time, each client for opts.seconds: posts a
      // second, and the main thread's busy time per request (its event loop's active time:
      // the client's own work, the receiver being in its worker thread).
      const agent = new Agent({ connections: 64, pipelining: 1, keepAliveTimeout: 30_000 });
      const body = Buffer.from(JSON.stringify({ type: 'bench', data: { pad: 'x'.repeat(200) } }));
      const url = `${receiver.url}/ok`;
      const headers = { 'webhook-id': 'msg_bench', 'webhook-timestamp': '0' };
      const clients: Array<[string, () => Promise<unknown>]> = [
        [
          "undici's request",
          async () => {
            const res = await request(url, {
              method: 'POST',
              dispatcher: agent,
              headers: { 'content-type': 'application/json', ...headers },
              body,
            });
            await res.body.text();
          },
        ],
        [
          "hookline's postJson",
          () =>
            postJson(agent, url, headers, body, { timeoutMs: 15_000, maxResponseBytes: 16_384 }),
        ],
      ];
      const results: Record<string, { posts_per_sec: number; busy_us_per_post: number }> = {};
      // Each client one second first, not counted: connections opened, code compiled.
      for (const [, post] of clients) await postFor(1, post);
      for (const [label, post] of clients) {
        const elu = performance.eventLoopUtilization();
        const started = Date.now();
        const n = await postFor(opts.seconds, post);
        const busy = performance.eventLoopUtilization(elu).active;
        const rate = Math.round(n / ((Date.now() - started) / 1000));
        results[label] = { posts_per_sec: rate, busy_us_per_post: Math.round((busy * 1000) / n) };
        log(
          `client       ${label.padEnd(20)} ${rate} POST/s, ${results[label]?.busy_us_per_post} µs of main-thread time a request`,
        );
      }
      await agent.close();
      report.client = results;
      await receiver.reset();
    }

    if (opts.phases.includes('throughput')) {
      await createEndpoints('bench.throughput', opts.fanout);
      const succeededBefore = await outcomes.countDocuments({ status: 'succeeded' });
      const [directBefore] = await metricValues(['hookline_deliveries_direct_total']);
      const total = opts.messages * opts.fanout;
      const started = Date.now();
      await publishBatches('bench.throughput', opts.messages, (i) => ({ i, pad: 'x'.repeat(200) }));
      const accepted = Date.now();
      const s = await waitReceived(total, 600_000);
      // Recorded: the dispatcher counts a succeeded attempt once its outcome (which holds
      // the attempt) is stored; then a count in the database confirms every one is there.
      const recorded = await waitMetric(
        'hookline_delivery_attempts_total{outcome="succeeded"}',
        total,
        600_000,
      );
      await waitCount({ status: 'succeeded' }, succeededBefore + total, 60_000, outcomes);
      const ingest = Math.round(opts.messages / ((accepted - started) / 1000));
      const delivered = Math.round(total / ((s.last - started) / 1000));
      const recordedRate = Math.round(total / ((recorded - started) / 1000));
      // How many first attempts fan-out made itself, not through the deliveries stream.
      const [directAfter] = await metricValues(['hookline_deliveries_direct_total']);
      const direct = Math.round((100 * ((directAfter ?? 0) - (directBefore ?? 0))) / total);
      Object.assign(report, {
        throughput_messages: opts.messages,
        throughput_fanout: opts.fanout,
        ingest_per_sec: ingest,
        deliveries_per_sec: delivered,
        recorded_deliveries_per_sec: recordedRate,
        direct_first_attempts_pct: direct,
      });
      if (typeof report.loopback_posts_per_sec === 'number') {
        report.deliveries_vs_loopback = Number(
          (delivered / report.loopback_posts_per_sec).toFixed(3),
        );
      }
      log(
        `throughput   ${opts.messages} messages × ${opts.fanout} endpoints: ingest ${ingest} msg/s, delivered ${delivered}/s, recorded as succeeded ${recordedRate}/s (${direct} % attempted straight from fan-out)`,
      );
      await receiver.reset();
    }

    if (opts.phases.includes('latency')) {
      await createEndpoints('bench.latency', 1);
      // One second at the rate first, not counted: connections opened, code compiled.
      for (let i = 0; i < opts.rate; i++) {
        await api('POST', '/v1/messages', { topic: 'bench.latency', data: { warmup: i } });
        await sleep(1000 / opts.rate);
      }
      await waitReceived(opts.rate, 30_000);
      await receiver.reset();
      const n = opts.rate * opts.seconds;
      const interval = 1000 / opts.rate;
      const started = Date.now();
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        const due = started + i * interval;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        pending.push(
          api('POST', '/v1/messages', { topic: 'bench.latency', data: { i, sent_at: Date.now() } }),
        );
      }
      await Promise.all(pending);
      const s = await waitReceived(n, 60_000);
      if (process.env.HOOKLINE_BENCH_DEBUG)
        process.stderr.write(`latencies in order: ${s.latencies.join(' ')}\n`);
      const sorted = [...s.latencies].sort((a, b) => a - b);
      const lat = {
        p50: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        p99: percentile(sorted, 99),
        max: sorted[sorted.length - 1],
      };
      report.latency_rate = opts.rate;
      report.latency_ms = lat;
      log(
        `latency      ${opts.rate} msg/s for ${opts.seconds} s, publish → receipt: p50 ${lat.p50} ms, p90 ${lat.p90} ms, p99 ${lat.p99} ms, max ${lat.max} ms`,
      );
      await receiver.reset();
    }

    if (opts.phases.includes('fanout')) {
      const t0 = Date.now();
      await createEndpoints('bench.wide', opts.wideFanout);
      log(`fanout       created ${opts.wideFanout} endpoints in ${Date.now() - t0} ms`);
      // Fan-out waits for the changes an event was published after, in whichever
      // dispatcher takes it: wait until every one has applied all 10,000 (applying them is
      // not what this phase measures).
      const deadline = Date.now() + 120_000;
      for (const p of processes) {
        while ((await metricOf(p, 'hookline_subscribed_endpoints')) < endpointsCreated) {
          if (Date.now() > deadline) throw new Error('dispatchers did not apply the new endpoints');
          await sleep(100);
        }
      }
      log(
        `fanout       every dispatcher applied them ${Date.now() - t0} ms after the first was created`,
      );
      const [storedBefore = 0, createdBefore = 0] = await metricValues([
        'hookline_deliveries_stored_total',
        'hookline_deliveries_created_total',
      ]);
      const started = Date.now();
      const msg = (await api('POST', '/v1/messages', {
        topic: 'bench.wide',
        data: { wide: true },
      })) as { id: string };
      // Stored: fan-out counts deliveries once they are in MongoDB, and again once each is
      // queued on JetStream or its first attempt has started (the counters start from the
      // earlier phases').
      const [stored, queued] = (await waitMetrics(
        [
          ['hookline_deliveries_stored_total', storedBefore + opts.wideFanout],
          ['hookline_deliveries_created_total', createdBefore + opts.wideFanout],
        ],
        120_000,
      )) as [number, number];
      await waitCount({ message_id: msg.id }, opts.wideFanout, 120_000);
      const s = await waitReceived(opts.wideFanout, 300_000);
      report.wide_fanout = opts.wideFanout;
      report.wide_fanout_stored_ms = stored - started;
      report.wide_fanout_queued_ms = queued - started;
      report.wide_fanout_delivered_ms = s.last - started;
      log(
        `fanout       1 message → ${opts.wideFanout} endpoints: every delivery stored in ${stored - started} ms, queued or attempted in ${queued - started} ms, all received in ${s.last - started} ms`,
      );
      await receiver.reset();
    }

    if (opts.phases.includes('backlog')) {
      const failing = 10;
      const messages = Math.ceil(opts.backlog / failing);
      await createEndpoints('bench.failing', failing, '/fail');
      await publishBatches('bench.failing', messages, (i) => ({ i }));
      // Waiting: every delivery stored, and each handed out by JetStream and waiting for
      // its time — a retry after a failed attempt, or the circuit of its endpoint, which
      // opens after a few failures, to let a probe through — with none left to hand out.
      await waitCount({ topic: 'bench.failing' }, messages * failing, 900_000);
      // A delivery waits in the consumer (a nak'ed short wait) or in the parking stream.
      const deadline = Date.now() + 900_000;
      const state = async () => {
        const c = await jsm.consumers.info(names.deliveriesStream, names.deliverConsumer);
        const p = await jsm.streams.info(names.parkedStream);
        return { queued: c.num_pending, held: c.num_ack_pending, parked: p.state.messages };
      };
      let st = await state();
      while (st.queued > 0 || st.held + st.parked < messages * failing) {
        if (Date.now() > deadline)
          throw new Error(`deliveries not all waiting: ${JSON.stringify(st)}`);
        await sleep(500);
        st = await state();
      }
      const waiting = st.held + st.parked;
      const attempted = await deliveries.countDocuments({
        topic: 'bench.failing',
        attempts: { $gte: 1 },
      });
      log(
        `backlog      ${waiting} deliveries waiting, ${st.parked} of them parked (${attempted} attempted once or more, the rest held by open circuits)`,
      );
      await createEndpoints('bench.fresh', opts.fanout);
      const total = Math.min(opts.messages, 2000) * opts.fanout;
      const started = Date.now();
      await publishBatches('bench.fresh', total / opts.fanout, (i) => ({ i }));
      const s = await waitReceived(total, 600_000);
      const rate = Math.round(total / ((s.last - started) / 1000));
      report.backlog_waiting = waiting;
      report.backlog_parked = st.parked;
      report.backlog_fresh_deliveries_per_sec = rate;
      // The largest of the dispatcher processes.
      report.backlog_rss_mb = Math.max(...processes.map((p) => rssMb(p.child.pid as number)));
      if (typeof report.deliveries_per_sec === 'number')
        report.backlog_vs_idle = Number((rate / report.deliveries_per_sec).toFixed(3));
      log(
        `backlog      ${waiting} deliveries waiting for a retry: fresh deliveries ${rate}/s, hookline RSS ${report.backlog_rss_mb} MB`,
      );
    }
    report.rss_mb = rssMb(hl.child.pid as number);
    if (extra.length > 0) report.dispatcher_rss_mb = extra.map((p) => rssMb(p.child.pid as number));
  } finally {
    for (const p of processes) {
      p.child.kill('SIGTERM');
      await new Promise((r) => p.child.once('exit', r));
    }
    await mongo
      .db()
      .dropDatabase()
      .catch(() => undefined);
    await mongo.close();
    await deleteNamespaceStreams(jsm, namespace);
    await nc.close();
    await receiver.close();
    await apiPool.close();
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return report;
}
