// The dispatcher's stats counters: attempts tallied in memory, written at most once a
// second to its own bucket documents (layout: core/stats.ts; read by registry/stats.ts).
import type { AnyBulkWriteOperation } from 'mongodb';
import { BULK_CHUNK } from '../core/deliveries.js';
import { newId } from '../core/ids.js';
import type { Semaphore } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { StatsDoc } from '../core/model.js';
import type { Mongo } from '../core/mongo.js';
import {
  addAttempt,
  bucketStart,
  type Delta,
  deltaUpdate,
  emptyDelta,
  LEVEL_NAMES,
  mergeDelta,
  statsId,
} from '../core/stats.js';

/** One attempt, as the stats count it. */
export interface CountedAttempt {
  endpointId: string;
  ownerId: string | null;
  ok: boolean;
  durationMs: number;
  error: string | null;
  /** When the attempt ended (ms since the epoch): the bucket it counts in. */
  at: number;
}

/** How often the counters are written, at most. */
const WRITE_EVERY_MS = 1000;
/** The writer's lease (StatsWriterDoc.last_at) runs this far ahead, renewed a minute before it ends. */
const LEASE_MS = 3 * 60_000;
const RENEW_BEFORE_MS = 60_000;

/**
 * This dispatcher's stats counters (layout: core/stats.ts). The recorder counts each
 * attempt here once it is stored — a few additions in memory — and the counters are
 * written at most once a second, one upsert per bucket and size touched (four when the
 * attempts of the second fall into one minute), through the dispatcher's write lane like
 * its other batched writes. So the cost on the store does not grow with the rate of
 * deliveries: at 3,000 deliveries a second it is four updates a second instead of the
 * thousands an update per attempt would cost.
 *
 * A write that fails is kept and added to the next one. What is lost: the counts of the
 * last second of a dispatcher that is killed; and a write that failed after the store had
 * applied it is counted twice (the store cannot tell).
 */
export function createCounters(mongo: Mongo, lane: Semaphore, log: Logger) {
  const writer = newId('wr');
  const startedAt = new Date();
  let leaseUntil = 0;
  /** Attempts counted since the last write, by minute. */
  let minutes = new Map<number, Delta>();
  /** Bucket documents whose write failed: added to the next write. */
  let unwritten = new Map<string, { t: number; delta: Delta }>();
  let writing: Promise<void> | null = null;
  const timer = setInterval(() => void flush(), WRITE_EVERY_MS);
  timer.unref();

  function count(a: CountedAttempt): void {
    const m = bucketStart(a.at, '1m');
    let d = minutes.get(m);
    if (!d) {
      d = emptyDelta();
      minutes.set(m, d);
    }
    addAttempt(d, a.endpointId, a.ownerId, a.ok, a.durationMs, a.error);
  }

  /** Every bucket document to update, with what to add: each minute goes into all four sizes. */
  function take(): Map<string, { t: number; delta: Delta }> {
    const docs = unwritten;
    unwritten = new Map();
    for (const [minute, d] of minutes) {
      for (const level of LEVEL_NAMES) {
        const t = bucketStart(minute, level);
        const id = statsId(level, t, writer);
        let doc = docs.get(id);
        if (!doc) {
          doc = { t, delta: emptyDelta() };
          docs.set(id, doc);
        }
        mergeDelta(doc.delta, d);
      }
    }
    minutes = new Map();
    return docs;
  }

  function putBack(entries: Array<[string, { t: number; delta: Delta }]>): void {
    for (const [id, doc] of entries) {
      const kept = unwritten.get(id);
      if (kept) mergeDelta(kept.delta, doc.delta);
      else unwritten.set(id, doc);
    }
  }

  async function write(): Promise<void> {
    if (minutes.size === 0 && unwritten.size === 0) return;
    const entries = [...take()];
    await lane.acquire();
    let next = 0;
    try {
      const now = Date.now();
      // Readers look up this writer's buckets only up to its lease: renew it before writing.
      if (leaseUntil - now < RENEW_BEFORE_MS) {
        const until = now + LEASE_MS;
        await mongo.col.statsWriters.updateOne(
          { _id: writer },
          { $set: { last_at: new Date(until) }, $setOnInsert: { started_at: startedAt } },
          { upsert: true },
        );
        leaseUntil = until;
      }
      for (; next < entries.length; next += BULK_CHUNK) {
        const chunk = entries.slice(next, next + BULK_CHUNK);
        const ops = chunk.map(
          ([id, doc]) =>
            ({
              updateOne: {
                filter: { _id: id },
                update: deltaUpdate(doc.delta, new Date(doc.t)),
                upsert: true,
              },
            }) as AnyBulkWriteOperation<StatsDoc>,
        );
        try {
          await mongo.col.stats.bulkWrite(ops, { ordered: false });
        } catch (err) {
          // Of an unordered bulk, only the statements named in writeErrors failed.
          const failed = failedIndexes(err);
          putBack(failed ? chunk.filter((_, k) => failed.has(k)) : chunk);
          next += BULK_CHUNK;
          throw err;
        }
      }
    } catch (err) {
      putBack(entries.slice(next));
      log.warn({ err }, 'could not write delivery stats; they are added to the next write');
    } finally {
      lane.release();
    }
  }

  /** Writes what is counted, one write at a time. */
  function flush(): Promise<void> {
    writing ??= write().finally(() => {
      writing = null;
    });
    return writing;
  }

  return {
    writer,
    count,
    flush,
    /** Writes what is left (called once the recorder is idle). */
    async close(): Promise<void> {
      clearInterval(timer);
      await writing;
      await flush();
    },
  };
}
export type Counters = ReturnType<typeof createCounters>;

function failedIndexes(err: unknown): Set<number> | null {
  const raw = (err as { writeErrors?: unknown }).writeErrors;
  const list = (Array.isArray(raw) ? raw : raw ? [raw] : []) as Array<{ index?: number }>;
  if (list.length === 0) return null;
  return new Set(list.map((e) => e.index ?? -1));
}
