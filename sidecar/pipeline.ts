import type { Logger } from '../core/logger.js';
import { parseLine } from './parse.js';
import { eventId, type OrderedCommitter, type Publisher } from './publisher.js';
import type { Rules } from './rules.js';

/** What the sidecar counts, per process: lines read, events published, lines skipped by reason. */
export interface SidecarStats {
  lines: number;
  events: number;
  skipped: Record<string, number>;
}

export function newStats(): SidecarStats {
  return { lines: 0, events: 0, skipped: {} };
}

/**
 * One line through the pipeline: parse by the service's rules; an event is published with
 * an id derived from `source` and `position`; the committer learns when the line is done.
 */
export async function handleLine<P>(
  line: string,
  tooLong: boolean,
  ctx: {
    rules: Rules;
    publisher: Publisher;
    committer: OrderedCommitter<P>;
    stats: SidecarStats;
    log: Logger;
  },
  where: { source: string; position: string; commit: P; at: Date },
): Promise<void> {
  ctx.stats.lines++;
  const result = tooLong
    ? ({ kind: 'skip', reason: 'too_long' } as const)
    : parseLine(line, ctx.rules);
  if (result.kind === 'skip') {
    ctx.stats.skipped[result.reason] = (ctx.stats.skipped[result.reason] ?? 0) + 1;
    ctx.committer.skip(where.commit);
    return;
  }
  ctx.stats.events++;
  const { acked } = await ctx.publisher.publish({
    id: eventId(where.source, where.position, line),
    topic: result.topic,
    data: result.data,
    at: where.at,
  });
  ctx.committer.track(where.commit, acked);
}
