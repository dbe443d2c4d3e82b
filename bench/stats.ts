/**
 * How long `GET /v1/stats` takes with many deliveries stored, against what an aggregation
 * over the stored attempts would take on the same store (docs/architecture.md, "Stats").
 *
 *   npx tsx bench/stats.ts [--messages 1200] [--endpoints 10] [--runs 20]
 *
 * Starts `hookline all` in this process (its own namespace and database, verification off,
 * loopback allowed) on HOOKLINE_MONGODB_URL, or on a FerretDB it starts when none is set;
 * NATS from HOOKLINE_NATS_URL (default 127.0.0.1:4222). One endpoint in ten answers 500 a
 * fifth of the time, so there are failed attempts and retries to count. Prints JSON.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startHookline } from '../cli/server.js';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { deleteNamespaceStreams } from '../core/nats.js';
import { createStats } from '../registry/stats.js';
import { statsWindow } from '../registry/stats.js';
import type { StatsDoc } from '../core/model.js';
import { bucketStart, type Level, LEVELS, statsId } from '../core/stats.js';
// @ts-expect-error: plain JavaScript, no types
import { startFerretDB } from '../scripts/mongo.mjs';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1200' },
    endpoints: { type: 'string', default: '10' },
    runs: { type: 'string', default: '20' },
  },
});
const MESSAGES = Number(values.messages);
const ENDPOINTS = Number(values.endpoints);
const RUNS = Number(values.runs);
const TOKEN = 'bench-stats-admin';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const round = (x: number) => Math.round(x * 10) / 10;

async function time<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const r = await f();
  return [performance.now() - t, r];
}

async function main() {
  let ferret: { url: string; stop(): Promise<void> } | null = null;
  let base = process.env.HOOKLINE_MONGODB_URL?.replace(/\/[^/]*$/, '');
  if (!base) {
    ferret = (await startFerretDB({ log: () => undefined })) as {
      url: string;
      stop(): Promise<void>;
    };
    base = ferret.url;
  }
  const namespace = `benchstats${Date.now().toString(36)}`;
  let n = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const failing = (req.url ?? '').endsWith('/ep0') && n++ % 5 === 0;
      res.writeHead(failing ? 500 : 200);
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const config = loadConfig(
    {
      addr: '127.0.0.1:0',
      mongodbUrl: `${base}/${namespace}`,
      namespace,
      adminToken: TOKEN,
      verifyEndpoints: 'false',
      allowTargets: '127.0.0.0/8',
      retrySchedule: '100ms,100ms,100ms',
      breakerThreshold: '100000',
      logLevel: 'warn',
    },
    process.env,
  );
  const running = await startHookline(config, createLogger(config.logLevel), {
    registry: true,
    dispatcher: true,
  });
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${running.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  };
  try {
    await api('POST', '/v1/topics', { name: 'bench.stats' });
    const endpointIds: string[] = [];
    for (let i = 0; i < ENDPOINTS; i++)
      endpointIds.push(
        (
          await api('POST', '/v1/endpoints', {
            url: `${receiverUrl}/ep${i}`,
            topics: ['bench.stats'],
          })
        ).id,
      );
    const published = Date.now();
    for (let i = 0; i < MESSAGES; i += 200) {
      const batch = Array.from({ length: Math.min(200, MESSAGES - i) }, (_, k) => ({
        topic: 'bench.stats',
        data: { i: i + k },
      }));
      await api('POST', '/v1/messages/batch', { messages: batch });
    }
    const deliveries = MESSAGES * ENDPOINTS;
    // Done when every delivery has ended and the counters have caught up with them.
    let s = await api('GET', '/v1/stats');
    for (;;) {
      const outcomes = await running.mongo.col.outcomes.estimatedDocumentCount();
      if (outcomes >= deliveries && s.backlog.pending === 0) {
        await sleep(1500);
        const again = await api('GET', '/v1/stats');
        if (
          again.totals.succeeded === s.totals.succeeded &&
          again.totals.failed === s.totals.failed
        )
          break;
        s = again;
        continue;
      }
      await sleep(1000);
      s = await api('GET', '/v1/stats');
    }
    const delivered = Date.now();
    const attempts = await running.mongo.col.attempts.estimatedDocumentCount();

    const queries: Record<string, string> = {
      'last hour, 1m (default)': '/v1/stats',
      'last day, 5m': `/v1/stats?from=${new Date(Date.now() - 86_400_000).toISOString()}`,
      'last day, 1m (1,440 buckets)': `/v1/stats?bucket=1m&from=${new Date(Date.now() - 86_400_000).toISOString()}`,
      'last 30 days, 1d': `/v1/stats?bucket=1d&from=${new Date(Date.now() - 30 * 86_400_000).toISOString()}`,
      'one endpoint, last hour': `/v1/stats?endpoint_id=${endpointIds[0]}`,
    };
    const http: Record<string, { first_ms: number; median_ms: number; max_ms: number }> = {};
    for (const [label, path] of Object.entries(queries)) {
      const times: number[] = [];
      for (let r = 0; r < RUNS; r++) times.push((await time(() => api('GET', path)))[0]);
      http[label] = {
        first_ms: round(times[0] as number),
        median_ms: round(median(times)),
        max_ms: round(Math.max(...times)),
      };
    }
    // A fresh reader every time: nothing in memory, every bucket read from the store.
    const deps = { mongo: running.mongo, nc: running.nc, config };
    const cold: Record<string, number> = {};
    for (const [label, bucket, from] of [
      ['last hour, 1m', '1m', Date.now() - 3600_000],
      ['last day, 1m (1,440 buckets)', '1m', Date.now() - 86_400_000],
      ['last day, 5m', '5m', Date.now() - 86_400_000],
    ] as const) {
      const times: number[] = [];
      for (let r = 0; r < Math.min(RUNS, 5); r++) {
        const w = statsWindow({ from: new Date(from), bucket });
        times.push((await time(() => createStats(deps).query({}, w)))[0]);
      }
      cold[label] = round(median(times));
    }
    // The alternative: what the store does to aggregate the attempts of the last hour (the
    // ended deliveries' last attempts sit in their outcomes, the others in attempts). FerretDB
    // v1's $group has no date operators, so even this leaves the bucketing to the registry.
    const hourAgo = new Date(Date.now() - 3600_000);
    const aggregation: number[] = [];
    for (let r = 0; r < Math.min(RUNS, 3); r++) {
      const [ms] = await time(async () => {
        const [byOutcome, byAttempt] = await Promise.all([
          running.mongo.col.outcomes
            .aggregate([
              { $match: { updated_at: { $gte: hourAgo } } },
              { $group: { _id: { e: '$endpoint_id', s: '$status' }, n: { $count: {} } } },
            ])
            .toArray(),
          running.mongo.col.attempts
            .find(
              { created_at: { $gte: hourAgo } },
              { projection: { endpoint_id: 1, created_at: 1, duration_ms: 1 } },
            )
            .toArray(),
        ]);
        return byOutcome.length + byAttempt.length;
      });
      aggregation.push(ms);
    }
    // The worst case for the reader: a dispatcher that has run for 30 days and delivered in
    // every minute, to every endpoint. Its buckets are written here, as it would have.
    const writer = 'wr_BENCHFULLWRITER';
    const now = Date.now();
    await running.mongo.col.statsWriters.insertOne({
      _id: writer,
      started_at: new Date(now - 31 * 86_400_000),
      last_at: new Date(now + 180_000),
    });
    const full: StatsDoc[] = [];
    const entries = Object.fromEntries(endpointIds.map((id) => [id, { s: 9, f: 1, ms: 120 }]));
    const fill = (level: Level, count: number) => {
      for (let k = 0; k < count; k++) {
        const t = bucketStart(now, level) - k * LEVELS[level];
        full.push({
          _id: statsId(level, t, writer),
          t: new Date(t),
          s: 90,
          f: 10,
          ms: 1200,
          e: entries,
        });
      }
    };
    fill('1m', 1441);
    fill('5m', 289);
    fill('1h', 721);
    fill('1d', 31);
    for (let k = 0; k < full.length; k += 500)
      await running.mongo.col.stats.insertMany(full.slice(k, k + 500), { ordered: false });
    await sleep(2500); // the readers' cache of writers (2 s)
    const fullCold: Record<string, number> = {};
    const fullHttp: Record<string, { first_ms: number; median_ms: number }> = {};
    for (const [label, bucket, from] of [
      ['last hour, 1m', '1m', now - 3600_000],
      ['last day, 5m', '5m', now - 86_400_000],
      ['last day, 1m (1,440 buckets)', '1m', now - 86_400_000],
      ['last 30 days, 1h (720 buckets)', '1h', now - 30 * 86_400_000],
      ['last 30 days, 1d', '1d', now - 30 * 86_400_000],
    ] as const) {
      const times: number[] = [];
      for (let r = 0; r < 3; r++) {
        const w = statsWindow({ from: new Date(from), bucket });
        times.push((await time(() => createStats(deps).query({}, w)))[0]);
      }
      fullCold[label] = round(median(times));
      const path = `/v1/stats?bucket=${bucket}&from=${new Date(from).toISOString()}`;
      const warm: number[] = [];
      for (let r = 0; r < 5; r++) warm.push((await time(() => api('GET', path)))[0]);
      fullHttp[label] = { first_ms: round(warm[0] as number), median_ms: round(median(warm)) };
    }
    const report = {
      date: new Date().toISOString(),
      load_average: loadavg().map(round),
      store: ferret ? 'FerretDB v1.24.2 on SQLite (test/ferretdb)' : base,
      deliveries,
      attempts_stored_apart: attempts,
      attempts_counted: s.totals.succeeded + s.totals.failed,
      totals: s.totals,
      seconds_to_deliver: round((delivered - published) / 1000),
      stats_docs: await running.mongo.col.stats.estimatedDocumentCount(),
      http_ms: http,
      cold_reader_ms: cold,
      full_writer: {
        what: `one more writer with every bucket of 30 days filled, ${ENDPOINTS} endpoints each (${full.length} documents)`,
        cold_reader_ms: fullCold,
        http_ms: fullHttp,
      },
      aggregation_over_attempts_ms: {
        median: round(median(aggregation)),
        runs: aggregation.map(round),
      },
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    await running.mongo.db.dropDatabase().catch(() => undefined);
    await running.close();
    receiver.close();
    const { connect } = await import('nats');
    const nc = await connect({ servers: config.natsUrl });
    await deleteNamespaceStreams(await nc.jetstreamManager(), namespace).catch(() => undefined);
    await nc.close();
    if (ferret) await ferret.stop();
  }
}

await main();
