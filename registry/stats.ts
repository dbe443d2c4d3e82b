// `GET /v1/stats`: the window a query covers, and the reader that sums the dispatchers'
// counters and reads the backlog.
import type { JetStreamManager } from 'nats';
import { ApiError } from '../core/errors.js';
import type { FailedDoc, StatsWriterDoc } from '../core/model.js';
import { natsNames } from '../core/nats.js';
import {
  type Bucket,
  bucketStart,
  LEVEL_NAMES,
  LEVELS,
  type Level,
  statsId,
} from '../core/stats.js';
import type { RegistryDeps } from './context.js';

/** The buckets a stats query covers: from `start` (included) to `end` (excluded). */
export interface StatsWindow {
  level: Level;
  start: number;
  end: number;
}

export const MAX_BUCKETS = 1500;
/** Without `bucket`, the smallest size that gives at most this many buckets. */
const AUTO_BUCKETS = 300;
const DEFAULT_RANGE_MS = 3600_000;

/**
 * The window of a query: the last hour unless told otherwise, widened to whole buckets;
 * at most MAX_BUCKETS of them (422 beyond).
 */
export function statsWindow(
  q: { from?: Date | undefined; to?: Date | undefined; bucket?: Level | undefined },
  now = Date.now(),
): StatsWindow {
  const to = q.to?.getTime() ?? now;
  const from = q.from?.getTime() ?? to - DEFAULT_RANGE_MS;
  if (from >= to) throw new ApiError('invalid_request', 'query: from must be before to');
  const level =
    q.bucket ?? LEVEL_NAMES.find((l) => Math.ceil((to - from) / LEVELS[l]) <= AUTO_BUCKETS) ?? '1d';
  const size = LEVELS[level];
  const start = bucketStart(from, level);
  const end = Math.ceil(to / size) * size;
  const n = (end - start) / size;
  if (n > MAX_BUCKETS)
    throw new ApiError(
      'invalid_request',
      `query: ${n} buckets of ${level} from ${new Date(from).toISOString()} to ${new Date(to).toISOString()}; at most ${MAX_BUCKETS}: choose a larger bucket or a shorter range`,
    );
  return { level, start, end };
}

/** Whose attempts: everyone's, one endpoint's, or one subscriber's endpoints'. */
export interface StatsScope {
  endpointId?: string;
  ownerId?: string;
}

/** A bucket ended this long ago takes no more writes but late ones (dispatcher/counters.ts). */
const SETTLED_MS = 2 * 60_000;
/** How long a settled bucket, the writers and the failed counts are kept in memory. */
const BUCKET_CACHE_MS = 5 * 60_000;
const WRITERS_CACHE_MS = 2_000;
const FAILED_CACHE_MS = 5_000;
const MAX_CACHED = 50_000;
/** Bucket lookups under way at once. */
const PARALLEL = 32;
const FAILING_TOP = 5;

/**
 * `GET /v1/stats`, computed from the counters the dispatchers write (core/stats.ts): one
 * lookup by `_id` per bucket and dispatcher that may have written it, in parallel. Settled
 * buckets are kept in memory for a few minutes, so a dashboard that asks again every few
 * seconds reads only the last bucket or two again.
 */
export function createStats(deps: Pick<RegistryDeps, 'mongo' | 'nc' | 'config'>) {
  const { stats, statsWriters, endpoints, failed } = deps.mongo.col;
  const names = natsNames(deps.config.namespace);
  const buckets = new Map<string, { doc: Bucket | null; until: number }>();
  const failedCounts = new Map<string, { n: number; until: number }>();
  let writers: { docs: StatsWriterDoc[]; until: number } | null = null;
  let jsm: Promise<JetStreamManager> | null = null;

  async function listWriters(): Promise<StatsWriterDoc[]> {
    const now = Date.now();
    if (!writers || writers.until < now)
      writers = { docs: await statsWriters.find({}).toArray(), until: now + WRITERS_CACHE_MS };
    return writers.docs;
  }

  async function bucket(id: string, settled: boolean): Promise<Bucket | null> {
    const now = Date.now();
    const hit = buckets.get(id);
    if (hit && hit.until > now) return hit.doc;
    const doc = await stats.findOne({ _id: id }, { projection: { t: 0 } });
    if (settled) {
      if (buckets.size >= MAX_CACHED) buckets.clear();
      buckets.set(id, { doc, until: now + BUCKET_CACHE_MS });
    }
    return doc;
  }

  async function failedCount(scope: StatsScope): Promise<number> {
    const key = `${scope.endpointId ?? ''}|${scope.ownerId ?? ''}`;
    const now = Date.now();
    const hit = failedCounts.get(key);
    if (hit && hit.until > now) return hit.n;
    const f: Partial<FailedDoc> = {};
    if (scope.endpointId) f.endpoint_id = scope.endpointId;
    if (scope.ownerId) f.owner_id = scope.ownerId;
    const n = await failed.countDocuments(f);
    if (failedCounts.size > 10_000) failedCounts.clear();
    failedCounts.set(key, { n, until: now + FAILED_CACHE_MS });
    return n;
  }

  /**
   * Deliveries waiting, from JetStream: queued (new, in flight, or retrying within
   * HOOKLINE_PARK_AFTER) and, for everyone's, parked. The parked stream is kept by due
   * time, not by endpoint, so one endpoint's or subscriber's count is of its queue only.
   */
  async function pending(scope: StatsScope): Promise<{ pending: number; parked: number | null }> {
    jsm ??= deps.nc.jetstreamManager();
    const m = await jsm;
    if (!scope.endpointId && !scope.ownerId) {
      const [queued, parked] = await Promise.all([
        m.streams.info(names.deliveriesStream),
        m.streams.info(names.parkedStream),
      ]);
      return {
        pending: queued.state.messages + parked.state.messages,
        parked: parked.state.messages,
      };
    }
    const ids = scope.endpointId
      ? [scope.endpointId]
      : (
          await endpoints.find({ owner_id: scope.ownerId }, { projection: { _id: 1 } }).toArray()
        ).map((e) => e._id);
    if (ids.length === 0) return { pending: 0, parked: null };
    const info = await m.streams.info(names.deliveriesStream, {
      subjects_filter:
        ids.length === 1 ? names.deliveriesSubject(ids[0] as string) : names.deliveriesSubject('*'),
    });
    const subjects = info.state.subjects ?? {};
    return {
      pending: ids.reduce((n, id) => n + (subjects[names.deliveriesSubject(id)] ?? 0), 0),
      parked: null,
    };
  }

  async function query(scope: StatsScope, w: StatsWindow) {
    const size = LEVELS[w.level];
    const n = (w.end - w.start) / size;
    const series = Array.from({ length: n }, () => ({ s: 0, f: 0, ms: 0 }));
    const perEndpoint = new Map<string, { s: number; f: number; err: string | null; at: number }>();
    const now = Date.now();
    const lookups: Array<{ i: number; t: number; id: string }> = [];
    for (const wr of await listWriters()) {
      // Only the buckets this writer may have written: from its start to its lease.
      const first = Math.max(w.start, bucketStart(wr.started_at.getTime(), w.level));
      const last = Math.min(w.end - size, bucketStart(wr.last_at.getTime(), w.level));
      for (let t = first; t <= last; t += size)
        lookups.push({ i: (t - w.start) / size, t, id: statsId(w.level, t, wr._id) });
    }
    const add = (i: number, t: number, id: string, e: NonNullable<Bucket['e']>[string]) => {
      const row = series[i];
      if (!row) return;
      row.s += e.s ?? 0;
      row.f += e.f ?? 0;
      row.ms += e.ms ?? 0;
      let p = perEndpoint.get(id);
      if (!p) {
        p = { s: 0, f: 0, err: null, at: -1 };
        perEndpoint.set(id, p);
      }
      p.s += e.s ?? 0;
      p.f += e.f ?? 0;
      if (e.err && t >= p.at) {
        p.err = e.err;
        p.at = t;
      }
    };
    let next = 0;
    const worker = async () => {
      while (next < lookups.length) {
        const l = lookups[next++] as (typeof lookups)[number];
        const doc = await bucket(l.id, l.t + size + SETTLED_MS < now);
        if (!doc?.e) continue;
        if (scope.endpointId) {
          const e = doc.e[scope.endpointId];
          if (e) add(l.i, l.t, scope.endpointId, e);
          continue;
        }
        for (const [id, e] of Object.entries(doc.e))
          if (!scope.ownerId || e.o === scope.ownerId) add(l.i, l.t, id, e);
      }
    };
    const [, backlogPending, backlogFailed] = await Promise.all([
      Promise.all(Array.from({ length: Math.min(PARALLEL, lookups.length) }, worker)),
      pending(scope),
      failedCount(scope),
    ]);

    const failing = [...perEndpoint.entries()]
      .filter(([, p]) => p.f > 0)
      .sort((a, b) => b[1].f - a[1].f || a[0].localeCompare(b[0]))
      .slice(0, FAILING_TOP);
    const urls = await Promise.all(
      failing.map(([id]) => endpoints.findOne({ _id: id }, { projection: { url: 1 } })),
    );
    const totals = series.reduce((t, r) => ({ s: t.s + r.s, f: t.f + r.f }), { s: 0, f: 0 });
    return {
      from: new Date(w.start).toISOString(),
      to: new Date(w.end).toISOString(),
      bucket: w.level,
      series: series.map((r, i) => ({
        t: new Date(w.start + i * size).toISOString(),
        succeeded: r.s,
        failed: r.f,
        avg_ms: r.s + r.f > 0 ? Math.round(r.ms / (r.s + r.f)) : null,
      })),
      totals: { succeeded: totals.s, failed: totals.f },
      backlog: { ...backlogPending, failed: backlogFailed },
      failing_endpoints: failing.map(([id, p], k) => ({
        endpoint_id: id,
        url: urls[k]?.url ?? null,
        failed: p.f,
        succeeded: p.s,
        last_error: p.err,
      })),
    };
  }

  return { query };
}
export type Stats = ReturnType<typeof createStats>;
