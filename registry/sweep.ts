// The sweeps of the console's and the portal's data (stats, failed, jobs, portal codes
// and sessions).
import { deleteByIds } from '../core/deliveries.js';
import type { Mongo } from '../core/mongo.js';
import { bucketStart, LEVEL_NAMES, LEVELS, statsId } from '../core/stats.js';
import type { RegistryDeps } from './context.js';
import { sweepPortal } from './portal.js';

/**
 * What the console's data needs removed, run with the registry's other sweeps every ten
 * minutes (FerretDB has no TTL indexes): expired portal codes and sessions, and — past
 * HOOKLINE_RETENTION, like the attempts they describe — stats buckets, entries of
 * `failed` (a delivery that old is removed by the retention sweep) and finished jobs.
 */
export async function sweepConsoleData(
  deps: Pick<RegistryDeps, 'mongo' | 'config'>,
): Promise<{ portal: number; stats: number; failed: number; jobs: number }> {
  const before = new Date(Date.now() - deps.config.retention);
  const col = deps.mongo.col;
  const [portal, stats, failed, jobs] = await Promise.all([
    sweepPortal(deps.mongo),
    sweepStats(deps.mongo, before),
    col.failed.deleteMany({ created_at: { $lt: before } }).then((r) => r.deletedCount),
    col.jobs
      .deleteMany({ created_at: { $lt: before }, status: { $ne: 'running' } })
      .then((r) => r.deletedCount),
  ]);
  return { portal, stats, failed, jobs };
}

/**
 * Removes stats buckets that ended before `before`. Their ids are known (core/stats.ts),
 * so they are deleted by id — what FerretDB answers from its index — from where the last
 * sweep of each writer stopped, never by a scan of the whole collection. A writer whose
 * every bucket is gone is forgotten.
 */
export async function sweepStats(mongo: Pick<Mongo, 'col'>, before: Date): Promise<number> {
  const { stats, statsWriters } = mongo.col;
  const until = before.getTime();
  let removed = 0;
  for (const w of await statsWriters.find({}).toArray()) {
    const from = (w.swept_to ?? w.started_at).getTime();
    const lastAt = w.last_at.getTime();
    if (until <= from) continue;
    for (const level of LEVEL_NAMES) {
      const size = LEVELS[level];
      const ids: string[] = [];
      for (let t = bucketStart(from, level); t + size <= until && t <= lastAt; t += size)
        ids.push(statsId(level, t, w._id));
      removed += await deleteByIds(stats, ids);
    }
    if (lastAt + LEVELS['1d'] <= until) await statsWriters.deleteOne({ _id: w._id });
    else await statsWriters.updateOne({ _id: w._id }, { $set: { swept_to: before } });
  }
  return removed;
}
