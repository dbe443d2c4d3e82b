import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { MongoClient } from 'mongodb';
import { connect } from 'nats';
import { isolation, NATS_URL } from '../helpers/env.js';

// `hookline bench` end to end, every phase at a tiny size: what it reports is a benchmark
// (no figure is judged here), but each phase must finish, report every figure, and leave
// nothing behind. Two dispatcher processes, as docs/benchmarks.md runs it.

const ROOT = join(import.meta.dirname, '..', '..');

test('hookline bench runs every phase, reports each figure, and cleans up', async () => {
  const iso = isolation('bench');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'cli.ts'),
      'bench',
      ...['--only', 'loopback,client,throughput,latency,fanout,backlog'],
      ...['--seconds', '1', '--messages', '40', '--fanout', '2', '--rate', '20'],
      ...['--wide-fanout', '60', '--backlog-size', '40', '--dispatchers', '2', '--output', 'json'],
    ],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        HOOKLINE_NATS_URL: NATS_URL,
        HOOKLINE_MONGODB_URL: iso.mongodbUrl,
        HOOKLINE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const limit = setTimeout(() => child.kill('SIGTERM'), 240_000);
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  clearTimeout(limit);
  assert.equal(code, 0, `bench failed:\n${err.slice(-3000)}`);
  const report = JSON.parse(out) as Record<string, unknown>;

  const positive = (key: string) => {
    const v = report[key];
    assert.ok(typeof v === 'number' && v > 0, `${key} should be a positive number: ${String(v)}`);
    return v as number;
  };
  positive('loopback_posts_per_sec');
  const clients = report.client as Record<
    string,
    { posts_per_sec: number; busy_us_per_post: number }
  >;
  assert.deepEqual(Object.keys(clients).sort(), ["hookline's postJson", "undici's request"]);
  for (const c of Object.values(clients)) assert.ok(c.posts_per_sec > 0 && c.busy_us_per_post > 0);
  positive('ingest_per_sec');
  positive('deliveries_per_sec');
  positive('recorded_deliveries_per_sec');
  positive('deliveries_vs_loopback');
  // A receiver that answers 200 at once: first attempts are made straight from fan-out.
  assert.ok(positive('direct_first_attempts_pct') <= 100, String(report.direct_first_attempts_pct));
  const lat = report.latency_ms as Record<string, number>;
  assert.ok(lat.p50 !== undefined && lat.p99 !== undefined && lat.max !== undefined);
  assert.ok(lat.p50 <= lat.p99 && lat.p99 <= lat.max, JSON.stringify(lat));
  const stored = positive('wide_fanout_stored_ms');
  const queued = positive('wide_fanout_queued_ms');
  // Both read from the same scrapes: stored can only be seen first.
  assert.ok(stored <= queued, 'deliveries are stored before they are queued');
  positive('wide_fanout_delivered_ms');
  assert.equal(report.backlog_waiting, 40);
  positive('backlog_fresh_deliveries_per_sec');
  positive('backlog_rss_mb');
  assert.equal((report.dispatcher_rss_mb as number[]).length, 1);

  // Nothing left: the bench's streams, buckets and database are gone.
  const ns = report.namespace as string;
  assert.match(ns, /^bench_/);
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await nc.jetstreamManager();
    const left: string[] = [];
    for await (const s of jsm.streams.list())
      if (s.config.name.includes(ns)) left.push(s.config.name);
    assert.deepEqual(left, []);
  } finally {
    await nc.close();
  }
  const mongo = await MongoClient.connect(iso.mongodbUrl);
  try {
    const dbs = await mongo.db().admin().listDatabases();
    assert.ok(!dbs.databases.some((d) => d.name === ns), `database ${ns} was not dropped`);
  } finally {
    await mongo.close();
  }
});
