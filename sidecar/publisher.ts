import { createHash } from 'node:crypto';
import type { JetStreamClient } from 'nats';
import { encodeBytes } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import { publishEvent } from '../core/publish.js';

/**
 * An event's id is a hash of where its line came from and what it says, so reading the
 * same line again (a restart, a reconnect, a rotation) yields the same id, which
 * JetStream and the dispatcher both deduplicate on.
 */
export function eventId(source: string, position: string, line: string): string {
  const digest = createHash('sha256')
    .update(source)
    .update('\0')
    .update(position)
    .update('\0')
    .update(line)
    .digest();
  return `msg_${encodeBytes(digest, 26)}`;
}

export interface SidecarEvent {
  id: string;
  topic: string;
  data: unknown;
  /** When the line was written, when the source knows (Docker does); else when it was read. */
  at: Date;
}

export interface PublisherOptions {
  js: JetStreamClient;
  namespace: string;
  log: Logger;
  /** Publishes awaiting their PubAck at once; reading pauses beyond it. */
  maxInFlight?: number;
}

/**
 * Publishes events with bounded concurrency and retries each until JetStream
 * acknowledges it: a NATS outage pauses the sources (their `publish` awaits a free slot)
 * and nothing read is dropped.
 */
export function createPublisher(opts: PublisherOptions) {
  const max = opts.maxInFlight ?? 256;
  let inFlight = 0;
  let waiters: Array<() => void> = [];
  let closed = false;
  const stats = { published: 0, retries: 0 };

  async function sendUntilAcked(e: SidecarEvent): Promise<void> {
    let delay = 200;
    for (;;) {
      try {
        await publishEvent(opts.js, opts.namespace, e, 5000);
        stats.published++;
        return;
      } catch (err) {
        if (closed) throw err;
        stats.retries++;
        opts.log.warn(
          { err: String(err), event_id: e.id, retry_in_ms: delay },
          'publish not acknowledged; retrying',
        );
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  return {
    stats,
    /**
     * Waits for a free slot, then starts publishing. Resolves (the slot taken) at once;
     * the returned `acked` settles when JetStream has stored the event.
     */
    async publish(e: SidecarEvent): Promise<{ acked: Promise<void> }> {
      while (inFlight >= max) await new Promise<void>((r) => waiters.push(r));
      inFlight++;
      const acked = sendUntilAcked(e).finally(() => {
        inFlight--;
        const w = waiters;
        waiters = [];
        for (const r of w) r();
      });
      return { acked };
    },
    get inFlight() {
      return inFlight;
    },
    close() {
      closed = true;
    },
  };
}
export type Publisher = ReturnType<typeof createPublisher>;

/**
 * Tracks positions in read order and tells how far every event has been acknowledged:
 * the checkpoint may move to a position only when everything before it is stored.
 */
export class OrderedCommitter<P> {
  private queue: Array<{ position: P; done: boolean }> = [];
  private committedPosition: P | undefined;

  constructor(private readonly onAdvance: (position: P) => void) {}

  /** A line with nothing to publish: done at once. */
  skip(position: P): void {
    this.queue.push({ position, done: true });
    this.advance();
  }

  /** A line whose event is being published. */
  track(position: P, acked: Promise<void>): void {
    const entry = { position, done: false };
    this.queue.push(entry);
    acked.then(
      () => {
        entry.done = true;
        this.advance();
      },
      () => undefined, // only fails when closing: the checkpoint stays where it was
    );
  }

  get committed(): P | undefined {
    return this.committedPosition;
  }

  get pending(): number {
    return this.queue.length;
  }

  private advance(): void {
    let moved = false;
    while (this.queue.length > 0 && this.queue[0]?.done) {
      this.committedPosition = (this.queue.shift() as { position: P }).position;
      moved = true;
    }
    if (moved && this.committedPosition !== undefined) this.onAdvance(this.committedPosition);
  }
}
