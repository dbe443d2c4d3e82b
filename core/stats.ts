import type { StatsDoc } from './model.js';

/**
 * Delivery statistics as stored: counters of attempts per bucket of time, per endpoint,
 * written by each dispatcher for itself (dispatcher/counters.ts) and summed by the
 * registry (registry/stats.ts). This module owns the layout both sides share.
 *
 * Why counters and not an aggregation over the attempts: FerretDB v1 pushes no filter but
 * `_id` equality down to SQLite and its `$group` has no date or arithmetic operators (only
 * `$count`, `$sum` of a field and `$first`), so bucketing attempts by time would read and
 * decode every attempt and outcome stored, in the registry — seconds at 10,000 deliveries,
 * and growing with retention. Counters are read by `_id` alone: one lookup per bucket and
 * writer, whatever is stored (docs/architecture.md has the numbers).
 *
 * Why one writer per document: FerretDB's updates read and write back in two steps, so two
 * dispatchers incrementing one document could lose an increment. Each dispatcher writes
 * documents of its own (`<level>:<bucket start>:<writer>`), and registers itself in
 * `stats_writers` so readers know whose buckets to look up.
 */

/** Bucket sizes, each stored as a level of its own so that a query reads one doc per bucket. */
export const LEVELS = {
  '1m': 60_000,
  '5m': 300_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
} as const;
export type Level = keyof typeof LEVELS;
export const LEVEL_NAMES = Object.keys(LEVELS) as Level[];

/** The start of the bucket of this size that holds `ms` (UTC: days start at midnight UTC). */
export function bucketStart(ms: number, level: Level): number {
  const size = LEVELS[level];
  return Math.floor(ms / size) * size;
}

export function statsId(level: Level, startMs: number, writer: string): string {
  return `${level}:${startMs}:${writer}`;
}

/** Errors kept per endpoint and bucket are cut to this many characters. */
const ERROR_CHARS = 300;

/** An endpoint's attempts not yet written. */
export interface EntryDelta {
  s: number;
  f: number;
  ms: number;
  owner: string | null;
  err: string | null;
}

/** A bucket's attempts not yet written: totals, and per endpoint. */
export interface Delta {
  s: number;
  f: number;
  ms: number;
  e: Map<string, EntryDelta>;
}

export function emptyDelta(): Delta {
  return { s: 0, f: 0, ms: 0, e: new Map() };
}

/** Counts one attempt into `d`. */
export function addAttempt(
  d: Delta,
  endpointId: string,
  ownerId: string | null,
  ok: boolean,
  durationMs: number,
  error: string | null,
): void {
  let e = d.e.get(endpointId);
  if (!e) {
    e = { s: 0, f: 0, ms: 0, owner: ownerId, err: null };
    d.e.set(endpointId, e);
  }
  if (ok) {
    d.s++;
    e.s++;
  } else {
    d.f++;
    e.f++;
    if (error) e.err = error.length > ERROR_CHARS ? error.slice(0, ERROR_CHARS) : error;
  }
  d.ms += durationMs;
  e.ms += durationMs;
}

/** Adds `from` into `into` (the later error wins). */
export function mergeDelta(into: Delta, from: Delta): void {
  into.s += from.s;
  into.f += from.f;
  into.ms += from.ms;
  for (const [id, x] of from.e) {
    const e = into.e.get(id);
    if (!e) {
      into.e.set(id, { ...x });
      continue;
    }
    e.s += x.s;
    e.f += x.f;
    e.ms += x.ms;
    e.owner ??= x.owner;
    if (x.err) e.err = x.err;
  }
}

/** The update that adds a delta to its bucket's document, creating it when missing. */
export function deltaUpdate(d: Delta, t: Date) {
  const inc: Record<string, number> = {};
  const set: Record<string, string> = {};
  if (d.s) inc.s = d.s;
  if (d.f) inc.f = d.f;
  inc.ms = d.ms;
  for (const [id, e] of d.e) {
    // Ids become field names: one with a dot or a leading $ (never hookline's) is left out.
    if (id.includes('.') || id.startsWith('$')) continue;
    if (e.s) inc[`e.${id}.s`] = e.s;
    if (e.f) inc[`e.${id}.f`] = e.f;
    inc[`e.${id}.ms`] = e.ms;
    if (e.owner) set[`e.${id}.o`] = e.owner;
    if (e.err) set[`e.${id}.err`] = e.err;
  }
  return Object.keys(set).length > 0
    ? { $inc: inc, $set: set, $setOnInsert: { t } }
    : { $inc: inc, $setOnInsert: { t } };
}

/** A bucket's counters as read: what one writer stored, or nothing. */
export type Bucket = Pick<StatsDoc, 's' | 'f' | 'ms' | 'e'>;
