import type { Logger } from '../core/logger.js';
import type { TopicRegistrar } from './catalogue.js';
import type { Checkpoints } from './checkpoint.js';
import { Demuxer, type DockerApi, type DockerEvent } from './docker-api.js';
import { LineSplitter } from './parse.js';
import { handleLine, type SidecarStats } from './pipeline.js';
import { OrderedCommitter, type Publisher } from './publisher.js';
import { LABEL, type Rules, RulesError, rulesFromLabels } from './rules.js';

/** Where a container's logs resume: the timestamp of the last line whose event is stored. */
export interface ContainerCheckpoint {
  ts: string;
}

interface Followed {
  abort: AbortController;
  done: Promise<void>;
}

export interface DockerSourceOptions {
  api: DockerApi;
  publisher: Publisher;
  checkpoints: Checkpoints;
  registrar: TopicRegistrar | null;
  stats: SidecarStats;
  log: Logger;
  reconnectMs?: number;
}

const ENABLED = `${LABEL.enable}=true`;

/** Seconds since the epoch, floored to the second, of a log line's RFC 3339 timestamp. */
export function resumeSecond(ts: string): number {
  const ms = Date.parse(ts);
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

/**
 * Watches the Docker Engine API: follows every running container labelled
 * `hookline.enable=true`, picks up containers as they start, and lets go of those that die
 * or are removed. Each container's lines resume from its checkpoint.
 *
 * Line identity: Docker prefixes each line with its timestamp (Podman only to the second),
 * so a line's position is its timestamp and its rank among the lines with that same
 * timestamp. Logs resume from the start of the checkpoint's second, so the ranks come out
 * the same on every reading and re-read lines get the ids they had.
 */
export function watchDocker(opts: DockerSourceOptions) {
  const log = opts.log.child({ source: 'docker' });
  const followed = new Map<string, Followed>();
  const reconnectMs = opts.reconnectMs ?? 1000;
  let stopped = false;
  const eventsAbort = new AbortController();

  async function followContainer(id: string): Promise<void> {
    if (followed.has(id) || stopped) return;
    const abort = new AbortController();
    const entry: Followed = { abort, done: Promise.resolve() };
    followed.set(id, entry);
    entry.done = (async () => {
      try {
        while (!stopped && !abort.signal.aborted) {
          const info = await opts.api.inspect(id, abort.signal);
          let rules: Rules | null;
          try {
            rules = rulesFromLabels(info.Config.Labels ?? {}, info.Name);
          } catch (err) {
            if (err instanceof RulesError) {
              log.error(
                { container: id, err: err.message },
                'container labels are invalid; not following it',
              );
              return;
            }
            throw err;
          }
          if (!rules) return;
          opts.registrar?.ensure(rules.topics, rules.service);
          const ended = await readLogs(id, info.Config.Tty, rules, abort.signal);
          if (ended === 'aborted') return;
          // The stream ended: the container stopped, or the daemon dropped us.
          const again = await opts.api.inspect(id, abort.signal).catch(() => null);
          if (!again?.State.Running) return;
          await new Promise((r) => setTimeout(r, reconnectMs));
        }
      } catch (err) {
        if (!abort.signal.aborted)
          log.warn({ container: id, err: String(err) }, 'stopped following a container');
      } finally {
        followed.delete(id);
      }
    })();
  }

  async function readLogs(
    id: string,
    tty: boolean,
    rules: Rules,
    signal: AbortSignal,
  ): Promise<'ended' | 'aborted'> {
    const key = `docker_${id}`;
    const cp = await opts.checkpoints.load<ContainerCheckpoint>(key);
    const since = cp ? resumeSecond(cp.ts) : 0;
    const clog = log.child({ container: id.slice(0, 12), service: rules.service });
    clog.info({ since }, 'following container logs');
    const committer = new OrderedCommitter<ContainerCheckpoint>((c) =>
      opts.checkpoints.save(key, c),
    );
    const splitters = new Map<number, LineSplitter>();
    const demux = new Demuxer();
    let lastTs = '';
    let rank = 0;
    const source = `docker:${id}`;

    const onLine = async (raw: string, tooLong: boolean) => {
      const space = raw.indexOf(' ');
      const ts = space > 0 ? raw.slice(0, space) : '';
      const line = space > 0 ? raw.slice(space + 1) : raw;
      rank = ts === lastTs ? rank + 1 : 0;
      lastTs = ts;
      const at = Number.isNaN(Date.parse(ts)) ? new Date() : new Date(ts);
      await handleLine(
        line,
        tooLong,
        { rules, publisher: opts.publisher, committer, stats: opts.stats, log: clog },
        {
          source,
          position: `${ts}#${rank}`,
          commit: { ts },
          at,
        },
      );
    };

    try {
      const stream = await opts.api.logs(id, since, signal);
      for await (const chunk of stream) {
        const lines: Array<[string, boolean]> = [];
        const collect = (streamNo: number, bytes: Buffer) => {
          let sp = splitters.get(streamNo);
          if (!sp) {
            sp = new LineSplitter();
            splitters.set(streamNo, sp);
          }
          sp.push(bytes, (line, _end, tooLong) => lines.push([line, tooLong]));
        };
        if (tty) collect(0, chunk);
        else demux.push(chunk, collect);
        // Awaiting each line holds the stream when the publisher is full: memory stays bounded.
        for (const [line, tooLong] of lines) await onLine(line, tooLong);
      }
    } catch (err) {
      if (signal.aborted) return 'aborted';
      throw err;
    }
    return 'ended';
  }

  async function watchEvents(): Promise<void> {
    while (!stopped) {
      try {
        const stream = await opts.api.events(ENABLED, eventsAbort.signal);
        // Pick up what started before (or while) we were not listening.
        for (const c of await opts.api.listContainers(ENABLED, eventsAbort.signal))
          void followContainer(c.Id);
        let buf = '';
        for await (const chunk of stream) {
          buf += chunk.toString('utf8');
          let nl = buf.indexOf('\n');
          while (nl >= 0) {
            const text = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            nl = buf.indexOf('\n');
            if (text) onEvent(text);
          }
        }
      } catch (err) {
        if (stopped) return;
        log.warn(
          { err: String(err), retry_in_ms: reconnectMs },
          'Docker events stream failed; reconnecting',
        );
      }
      if (!stopped) await new Promise((r) => setTimeout(r, reconnectMs));
    }
  }

  function onEvent(text: string): void {
    let e: DockerEvent;
    try {
      e = JSON.parse(text) as DockerEvent;
    } catch {
      return;
    }
    const id = e.Actor?.ID ?? e.id;
    const action = e.Action ?? e.status ?? '';
    if (!id || (e.Type && e.Type !== 'container')) return;
    // Podman names the action "die" but filters on "died": filter here, not in the query.
    if (action === 'start') void followContainer(id);
    else if (action === 'destroy' || action === 'remove') void release(id, true);
  }

  async function release(id: string, forget: boolean): Promise<void> {
    const f = followed.get(id);
    if (f) {
      f.abort.abort();
      await f.done;
    }
    if (forget) await opts.checkpoints.remove(`docker_${id}`).catch(() => undefined);
  }

  let eventsLoop: Promise<void> | null = null;
  return {
    start(): void {
      eventsLoop = watchEvents();
    },
    following: () => [...followed.keys()],
    async stop(): Promise<void> {
      stopped = true;
      eventsAbort.abort();
      await Promise.all([...followed.keys()].map((id) => release(id, false)));
      await eventsLoop;
    },
  };
}
