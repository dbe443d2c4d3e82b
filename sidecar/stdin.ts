import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from '../core/logger.js';
import { LineSplitter } from './parse.js';
import { handleLine, type SidecarStats } from './pipeline.js';
import { OrderedCommitter, type Publisher } from './publisher.js';
import type { Rules } from './rules.js';

/**
 * Reads lines from a stream (standard input) until it ends, then waits until every event
 * is acknowledged. A pipe cannot be re-read, so there is no checkpoint; ids include a run
 * id, and retries within the run are deduplicated by JetStream.
 */
export async function readStream(
  input: Readable,
  opts: { rules: Rules; publisher: Publisher; stats: SidecarStats; log: Logger },
): Promise<void> {
  const run = randomBytes(8).toString('hex');
  const committer = new OrderedCommitter<number>(() => undefined);
  const splitter = new LineSplitter();
  let n = 0;
  for await (const chunk of input) {
    const lines: Array<[string, boolean]> = [];
    splitter.push(chunk as Buffer, (line, _end, tooLong) => lines.push([line, tooLong]));
    for (const [line, tooLong] of lines) {
      n++;
      await handleLine(
        line,
        tooLong,
        { ...opts, committer },
        {
          source: `stdin:${opts.rules.service}:${run}`,
          position: String(n),
          commit: n,
          at: new Date(),
        },
      );
    }
  }
  // Wait until the committer has seen every line acknowledged.
  while (committer.pending > 0) await new Promise((r) => setTimeout(r, 20));
}
