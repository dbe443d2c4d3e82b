import { createHash } from 'node:crypto';
import { type FileHandle, open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from '../core/logger.js';
import type { Checkpoints } from './checkpoint.js';
import { LineSplitter } from './parse.js';
import { handleLine, type SidecarStats } from './pipeline.js';
import { OrderedCommitter, type Publisher } from './publisher.js';
import type { Rules } from './rules.js';

/** Where a followed file resumes: which file (device and inode), how far, how many truncations. */
export interface FileCheckpoint {
  dev: number;
  ino: number;
  offset: number;
  truncations: number;
}

const CHUNK = 64 * 1024;

export interface FileSourceOptions {
  path: string;
  rules: Rules;
  publisher: Publisher;
  checkpoints: Checkpoints;
  stats: SidecarStats;
  log: Logger;
  pollMs?: number;
}

/**
 * Follows a file like `tail -F`: from its checkpoint, through rotation (the path now names
 * another file: the old one is read to its end first) and truncation (the file shrank:
 * read again from the start). Lines become events by the rules; the checkpoint moves only
 * past lines whose events JetStream has acknowledged.
 */
export function followFile(opts: FileSourceOptions) {
  const path = resolve(opts.path);
  const key = `file_${createHash('sha256').update(path).digest('hex').slice(0, 32)}`;
  const pollMs = opts.pollMs ?? 100;
  const log = opts.log.child({ source: 'file', path });
  let stopped = false;
  let wake: (() => void) | null = null;

  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(() => {
        wake = null;
        r();
      }, ms);
      wake = () => {
        clearTimeout(t);
        wake = null;
        r();
      };
    });

  async function statOrNull(p: string) {
    try {
      return await stat(p, { bigint: false });
    } catch {
      return null;
    }
  }

  /** The file that had this identity, if it still exists in the same directory (rotated). */
  async function findRotated(cp: FileCheckpoint): Promise<string | null> {
    const dir = dirname(path);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return null;
    }
    for (const name of names) {
      if (name === basename(path)) continue;
      const s = await statOrNull(join(dir, name));
      if (s && s.ino === cp.ino && s.dev === cp.dev && s.isFile()) return join(dir, name);
    }
    return null;
  }

  async function readFrom(
    fh: FileHandle,
    cp: FileCheckpoint,
    untilEof: boolean,
  ): Promise<FileCheckpoint> {
    let state = { ...cp };
    const committer = new OrderedCommitter<FileCheckpoint>((c) => opts.checkpoints.save(key, c));
    const splitter = new LineSplitter(state.offset);
    const source = `file:${state.dev}:${state.ino}:${state.truncations}`;
    const buf = Buffer.allocUnsafe(CHUNK);
    let position = state.offset;
    for (;;) {
      if (stopped) return state;
      const { bytesRead } = await fh.read(buf, 0, CHUNK, position);
      if (bytesRead > 0) {
        position += bytesRead;
        const lines: Array<{ line: string; end: number; tooLong: boolean }> = [];
        splitter.push(buf.subarray(0, bytesRead), (line, end, tooLong) =>
          lines.push({ line, end, tooLong }),
        );
        for (const l of lines) {
          const start = l.end - Buffer.byteLength(l.line) - 1;
          state = { ...state, offset: l.end };
          await handleLine(
            l.line,
            l.tooLong,
            { ...opts, committer, log },
            {
              source,
              position: String(start),
              commit: state,
              at: new Date(),
            },
          );
        }
        continue;
      }
      // At the end of the file: has it been rotated or truncated?
      if (untilEof) return state;
      const now = await statOrNull(path);
      const current = await fh.stat();
      if (!now || now.ino !== state.ino || now.dev !== state.dev) {
        // Rotated: finish what the old file holds, then move on.
        return state;
      }
      if (current.size < position) {
        log.info(
          { size: current.size, offset: position },
          'file truncated; reading it from the start',
        );
        return { ...state, offset: 0, truncations: state.truncations + 1 };
      }
      await sleep(pollMs);
    }
  }

  async function run(): Promise<void> {
    let cp = await opts.checkpoints.load<FileCheckpoint>(key);
    log.info({ checkpoint: cp }, 'following file');
    while (!stopped) {
      const s = await statOrNull(path);
      if (!s) {
        await sleep(pollMs * 5);
        continue;
      }
      if (cp && (cp.ino !== s.ino || cp.dev !== s.dev)) {
        // The file was rotated while we were away: finish the old one if it is still here.
        const old = await findRotated(cp);
        if (old) {
          log.info({ rotated_to: old }, 'finishing the rotated file first');
          const fh = await open(old, 'r');
          try {
            await readFrom(fh, cp, true);
          } finally {
            await fh.close();
          }
        }
        cp = null;
      }
      const fh = await open(path, 'r');
      try {
        const opened = await fh.stat();
        let state: FileCheckpoint =
          cp && cp.ino === opened.ino && cp.dev === opened.dev
            ? cp
            : { dev: opened.dev, ino: opened.ino, offset: 0, truncations: 0 };
        if (opened.size < state.offset)
          state = { ...state, offset: 0, truncations: state.truncations + 1 };
        opts.checkpoints.save(key, state);
        const after = await readFrom(fh, state, false);
        if (stopped) break;
        if (
          after.ino === opened.ino &&
          after.offset === 0 &&
          after.truncations > state.truncations
        ) {
          cp = after; // truncated: same file, from the start
          opts.checkpoints.save(key, after);
          continue;
        }
        // Rotated: drain the old handle to its end before following the new file.
        await readFrom(fh, after, true);
        cp = null;
      } finally {
        await fh.close();
      }
    }
  }

  let running: Promise<void> | null = null;
  return {
    key,
    start(): Promise<void> {
      running = run().catch((err: unknown) => {
        log.error({ err }, 'file source failed');
        throw err;
      });
      return running;
    },
    async stop(): Promise<void> {
      stopped = true;
      wake?.();
      await running?.catch(() => undefined);
    },
  };
}
