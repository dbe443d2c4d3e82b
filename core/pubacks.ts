import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type NatsError } from 'nats';
import { H } from './event.js';

export interface PublishOptions {
  /** JetStream's duplicate-detection id (`Nats-Msg-Id`). */
  msgID: string;
  headers: MsgHdrs;
}
export interface Ack {
  stream: string;
  seq: number;
  duplicate: boolean;
}
/** A JetStream publish that resolves with the stream's acknowledgement. */
export type Publish = (subject: string, data: Uint8Array, opts: PublishOptions) => Promise<Ack>;

/** How often acknowledgements that never came are failed. */
const SWEEP_MS = 250;

/**
 * JetStream publishing with every acknowledgement received on one wildcard subscription.
 *
 * What `js.publish` of nats.js does, for the hot paths (fan-out, parking): that one is a
 * request per message, and each request it completes also builds a `NatsError`
 * ("cancelled", with its stack trace) for a promise already settled — about 3 % of a
 * busy dispatcher's CPU, measured with --cpu-prof, plus a timer per message. Here a
 * publish is a map entry; one interval fails the ones not acknowledged in time.
 */
export function createPublisher(nc: NatsConnection, timeoutMs = 10_000) {
  const prefix = createInbox();
  const pending = new Map<
    string,
    { resolve: (a: Ack) => void; reject: (e: Error) => void; deadline: number }
  >();
  let counter = 0;

  function settle(err: NatsError | null, msg: Msg) {
    if (err) return;
    const token = msg.subject.slice(prefix.length + 1);
    const p = pending.get(token);
    if (!p) return;
    pending.delete(token);
    if (msg.headers?.hasError) {
      const why =
        msg.headers.code === 503
          ? 'no JetStream stream takes this subject'
          : msg.headers.description;
      p.reject(new Error(`JetStream did not store the message: ${msg.headers.code} ${why}`));
      return;
    }
    try {
      const a = JSON.parse(Buffer.from(msg.data).toString()) as Partial<Ack> & {
        error?: { code?: number; description?: string };
      };
      if (a.error) {
        p.reject(
          new Error(`JetStream refused the message: ${a.error.description ?? a.error.code}`),
        );
        return;
      }
      p.resolve({ stream: a.stream ?? '', seq: a.seq ?? 0, duplicate: a.duplicate === true });
    } catch (e) {
      p.reject(new Error(`JetStream answered with something else than an acknowledgement: ${e}`));
    }
  }

  const sub = nc.subscribe(`${prefix}.*`, { callback: settle });
  // Every publish has the same timeout, so deadlines come in the order of insertion.
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [token, p] of pending) {
      if (p.deadline > now) break;
      pending.delete(token);
      p.reject(new Error('JetStream did not acknowledge the message in time'));
    }
  }, SWEEP_MS);
  sweep.unref();

  const publish: Publish = (subject, data, opts) =>
    new Promise<Ack>((resolve, reject) => {
      const token = (counter++).toString(36);
      opts.headers.set(H.msgId, opts.msgID);
      pending.set(token, { resolve, reject, deadline: Date.now() + timeoutMs });
      try {
        nc.publish(subject, data, { reply: `${prefix}.${token}`, headers: opts.headers });
      } catch (err) {
        pending.delete(token);
        reject(err as Error);
      }
    });

  return {
    publish,
    close() {
      clearInterval(sweep);
      sub.unsubscribe();
      for (const p of pending.values()) p.reject(new Error('publisher closed'));
      pending.clear();
    },
  };
}
