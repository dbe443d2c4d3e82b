import { headers as natsHeaders } from 'nats';
import { ApiError } from '../core/errors.js';
import { eventBody, H } from '../core/event.js';
import { newId } from '../core/ids.js';
import type { MessageDoc } from '../core/model.js';
import { isDuplicateKey } from '../core/mongo.js';
import { natsNames } from '../core/nats.js';
import type { RegistryDeps } from './context.js';

/** JetStream's duplicate window: a republish inside it is dropped by the server. */
const DEDUPE_WINDOW_MS = 110_000;
/** How long an idempotency key answers with its first message. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;

/**
 * Accepts one message: records it, publishes it to JetStream and waits for the PubAck.
 * With an idempotency key, a repeated request answers the first message and publishes
 * nothing new. Returns the stored message and whether it was a repeat.
 */
export async function publishMessage(
  deps: RegistryDeps,
  input: { topic: string; data: unknown; idempotencyKey: string | null },
): Promise<{ message: MessageDoc; repeated: boolean }> {
  const { messages, idempotency } = deps.mongo.col;
  const message: MessageDoc = {
    _id: newId('msg'),
    topic: input.topic,
    data: input.data ?? null,
    idempotency_key: input.idempotencyKey,
    created_at: new Date(),
  };

  if (input.idempotencyKey !== null) {
    const claimed = await claimKey(deps, input.idempotencyKey, message);
    if (!claimed)
      return { message: await firstMessage(deps, input.idempotencyKey), repeated: true };
  }

  try {
    await messages.insertOne(message);
  } catch (err) {
    if (input.idempotencyKey !== null) await idempotency.deleteOne({ _id: input.idempotencyKey });
    throw err;
  }
  try {
    await publishToStream(deps, message);
  } catch (err) {
    deps.log.error({ err, message_id: message._id }, 'JetStream did not acknowledge a message');
    // Nothing was accepted: take back what was stored so a retry starts clean.
    await messages.deleteOne({ _id: message._id }).catch(() => undefined);
    if (input.idempotencyKey !== null) {
      await idempotency.deleteOne({ _id: input.idempotencyKey }).catch(() => undefined);
    }
    throw new ApiError('publish_failed');
  }
  return { message, repeated: false };
}

/**
 * Stores the key, or finds it taken. A key older than the window is expired: removed and
 * claimed afresh (the periodic sweep removes the rest).
 */
async function claimKey(deps: RegistryDeps, key: string, message: MessageDoc): Promise<boolean> {
  const { idempotency } = deps.mongo.col;
  for (let i = 0; i < 2; i++) {
    try {
      await idempotency.insertOne({
        _id: key,
        message_id: message._id,
        created_at: message.created_at,
      });
      return true;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const expired = new Date(Date.now() - IDEMPOTENCY_WINDOW_MS);
      const removed = await idempotency.deleteOne({ _id: key, created_at: { $lt: expired } });
      if (removed.deletedCount === 0) return false;
    }
  }
  return false;
}

/** Removes idempotency keys past the window; the registry runs it periodically. */
export async function sweepIdempotencyKeys(deps: Pick<RegistryDeps, 'mongo'>): Promise<number> {
  const expired = new Date(Date.now() - IDEMPOTENCY_WINDOW_MS);
  const res = await deps.mongo.col.idempotency.deleteMany({ created_at: { $lt: expired } });
  return res.deletedCount;
}

async function firstMessage(deps: RegistryDeps, key: string): Promise<MessageDoc> {
  const { messages, idempotency } = deps.mongo.col;
  // The first request may still be between its two writes: give it a moment.
  for (let i = 0; i < 20; i++) {
    const idem = await idempotency.findOne({ _id: key });
    if (!idem) break;
    const first = await messages.findOne({ _id: idem.message_id });
    if (first) {
      // A first request that died after storing but before its PubAck left a message that
      // may never have reached JetStream. Inside the duplicate window a republish is free,
      // and it makes the repeat as good as the first.
      if (Date.now() - first.created_at.getTime() < DEDUPE_WINDOW_MS)
        await publishToStream(deps, first);
      return first;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new ApiError('idempotency_in_progress');
}

export async function publishToStream(deps: RegistryDeps, message: MessageDoc): Promise<void> {
  const names = natsNames(deps.config.namespace);
  const h = natsHeaders();
  h.set(H.recorded, '1');
  await deps.js.publish(
    names.eventsSubject(message.topic),
    Buffer.from(eventBody(message.topic, message.created_at, message.data)),
    { msgID: message._id, headers: h, timeout: 10_000 },
  );
}
