import {
  type Consumer,
  ConsumerDebugEvents,
  ConsumerEvents,
  type ConsumerMessages,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import type { Logger } from '../core/logger.js';

/**
 * A durable consumer's messages that keep coming when its leader moves.
 *
 * nats.js's `consume()` keeps a pull request open on the consumer's leader and counts what
 * that request still owes. When the leader dies (SIGKILL, a lost server) the request dies
 * with it and nothing says so: the client waits for what it is owed. Its own recovery is a
 * missed-heartbeat check (two heartbeats, 30 s at the default `expires`) that asks for the
 * consumer's info and pulls again; a failed ask waits a whole `expires` before the next,
 * and the check is paused on every disconnect and resumed only by a reset that succeeds at
 * once: a reset already backing off (an election) answers "no" and leaves it off for good.
 * On a three-node cluster with a leader SIGKILLed, nobody pulled the `fanout` consumer for
 * 26 s while it held 999 events; in the runs of findings.md `deliver` stayed unpulled,
 * 152 deliveries pending, to the end of the run.
 *
 * So hookline watches its pulls itself and starts a fresh `consume()` (a new request,
 * counting from zero) when one has stopped: at once when the server or nats.js says so
 * (409 leadership change, consumer deleted, no responders, heartbeats missed while the
 * loop was waiting for messages), and otherwise when the loop has waited IDLE_MS for a
 * message while the consumer has messages nobody takes or no pull request at all. Messages
 * this process holds are not affected (their acks go straight to the consumer), and what
 * the old request had buffered is yielded before it ends.
 *
 * A reconnect alone is no reason: the request may still be alive on the leader, and
 * ending a live request is what close() in index.ts avoids until the very end (on NATS
 * 2.9.10 a message nak'ed after its pull stopped came back counted as a first delivery).
 * Where the leader went with the server, the checks above see it within seconds.
 */

/** The pull request's lifetime; nats.js asks for a heartbeat every half of it. */
const EXPIRES_MS = 10_000;
/** A loop that has waited this long for a message asks the consumer whether it should have one. */
const IDLE_MS = 5_000;
const CHECK_MS = 2_500;
/** Restarts without a message in between wait longer each time, up to this. */
const RESTART_MAX_DELAY_MS = 4_000;

export interface PullOptions {
  /** The durable consumer's name, for the logs. */
  name: string;
  /** Messages asked for at once: the loop's concurrency. */
  maxMessages: number;
  log: Logger;
  /** Called with the reason each time the pull is started again. */
  onRestart?: (reason: string) => void;
}

export interface Pull {
  /** Every message, across restarts; ends after stop(). */
  messages: AsyncIterable<JsMsg>;
  /** Ends the pull: what the current request has buffered is still yielded. */
  stop(): void;
}

export function createPull(nc: NatsConnection, consumer: Consumer, options: PullOptions): Pull {
  const { log, name } = options;
  let stopped = false;
  let current: ConsumerMessages | null = null;
  /**
   * Since when the loop has been asking for a message without getting one; null while it
   * holds one (its slots busy: it sends no pull request then, and gets no heartbeats).
   */
  let waitingSince: number | null = null;
  let restarts = 0;
  let checking = false;

  const idle = () => waitingSince !== null && Date.now() - waitingSince >= IDLE_MS;

  function restart(from: ConsumerMessages, reason: string): void {
    if (stopped || from !== current) return;
    current = null;
    options.onRestart?.(reason);
    log.warn({ consumer: name, reason }, 'starting the pull of the consumer again');
    from.stop();
  }

  /** Reacts to what nats.js reports about its pull request. */
  async function watch(messages: ConsumerMessages): Promise<void> {
    for await (const s of await messages.status()) {
      if (messages !== current) return;
      if (s.type === ConsumerEvents.HeartbeatsMissed) {
        // Explained while the loop's slots were busy: it asked for nothing, so nothing came.
        if (idle()) restart(messages, 'heartbeats missed');
      } else if (
        s.type === ConsumerEvents.ConsumerDeleted ||
        s.type === ConsumerEvents.ConsumerNotFound ||
        s.type === ConsumerEvents.StreamNotFound ||
        s.type === ConsumerEvents.NoResponders
      ) {
        restart(messages, s.type);
      } else if (
        s.type === ConsumerDebugEvents.DebugEvent &&
        /^409 leadership change/i.test(String(s.data))
      ) {
        restart(messages, 'leadership change');
      }
    }
  }

  /** The catch-all: a loop kept waiting while the consumer has work or no pull request. */
  const check = setInterval(() => {
    const messages = current;
    if (!messages || checking || !idle()) return;
    checking = true;
    consumer
      .info()
      .then((ci) => {
        if (!idle()) return; // a message came meanwhile
        const cap = ci.config.max_ack_pending ?? -1;
        if (ci.num_waiting === 0) restart(messages, 'no pull request on the consumer');
        else if (ci.num_pending > 0 && (cap <= 0 || ci.num_ack_pending < cap))
          restart(messages, 'messages waiting and none coming');
      })
      .catch(() => {
        // Nobody answers for the consumer (an election): asked again at the next check.
      })
      .finally(() => {
        checking = false;
      });
  }, CHECK_MS);
  check.unref();

  async function* messages(): AsyncGenerator<JsMsg> {
    try {
      while (!stopped) {
        if (restarts > 0) {
          await new Promise((r) =>
            setTimeout(r, Math.min(RESTART_MAX_DELAY_MS, 250 * 2 ** (restarts - 1))),
          );
          if (stopped) break;
        }
        restarts++;
        let pulled: ConsumerMessages;
        try {
          pulled = await consumer.consume({
            max_messages: options.maxMessages,
            expires: EXPIRES_MS,
          });
        } catch (err) {
          if (stopped || nc.isClosed()) break;
          log.warn({ err, consumer: name }, 'could not start a pull; trying again');
          continue;
        }
        if (stopped) {
          pulled.stop();
          break;
        }
        current = pulled;
        void watch(pulled).catch(() => undefined);
        const it = pulled[Symbol.asyncIterator]();
        try {
          for (;;) {
            waitingSince = Date.now();
            const next = await it.next();
            waitingSince = null;
            if (next.done) break;
            restarts = 0;
            yield next.value;
          }
        } catch (err) {
          if (!stopped)
            log.warn({ err, consumer: name }, 'pull ended with an error; starting it again');
        } finally {
          waitingSince = null;
          if (current === pulled) current = null;
        }
      }
    } finally {
      clearInterval(check);
    }
  }

  return {
    messages: messages(),
    stop() {
      stopped = true;
      clearInterval(check);
      current?.stop();
    },
  };
}
