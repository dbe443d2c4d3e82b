import { ApiError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { MessageDoc } from '../core/model.js';
import { duplicateKeyIndexes, isDuplicateKey } from '../core/mongo.js';
import { publishEvent } from '../core/publish.js';
import { currentOutcomes, deleteByIds } from '../core/deliveries.js';
import type { RegistryDeps } from './context.js';

/** JetStream's duplicate window: a republish inside it is dropped by the server. */
const DEDUPE_WINDOW_MS = 110_000;
/** How long an idempotency key answers with its first message. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;

export interface PublishInput {
  topic: string;
  data: unknown;
  idempotencyKey: string | null;
}

export interface Published {
  message: MessageDoc;
  repeated: boolean;
}

/** Accepts one message; see `publishMany`. */
export async function publishMessage(deps: RegistryDeps, input: PublishInput): Promise<Published> {
  return (await publishMany(deps, [input]))[0] as Published;
}

/**
 * Accepts messages: records them, publishes them to JetStream and waits for every PubAck
 * (one round trip per step for the whole batch, the publishes in flight together). A
 * message whose idempotency key was seen within 24 h answers the first message and
 * publishes nothing new. If JetStream refuses some, those are taken back and
 * `publish_failed` names them; the rest stay accepted.
 */
export async function publishMany(
  deps: RegistryDeps,
  inputs: readonly PublishInput[],
): Promise<Published[]> {
  const { messages, idempotency } = deps.mongo.col;
  const now = new Date();
  const fresh: MessageDoc[] = inputs.map((input) => ({
    _id: newId('msg'),
    topic: input.topic,
    data: input.data ?? null,
    idempotency_key: input.idempotencyKey,
    created_at: now,
  }));
  const results: Array<Published | null> = inputs.map(() => null);

  // Keys: the first use of a key in the batch claims it; a later one repeats it.
  const firstIndexOfKey = new Map<string, number>();
  const claimants: number[] = [];
  inputs.forEach((input, i) => {
    if (input.idempotencyKey === null) return;
    if (firstIndexOfKey.has(input.idempotencyKey)) return;
    firstIndexOfKey.set(input.idempotencyKey, i);
    claimants.push(i);
  });
  const taken = new Set<number>();
  if (claimants.length > 0) {
    try {
      await idempotency.insertMany(
        claimants.map((i) => ({
          _id: inputs[i]?.idempotencyKey as string,
          message_id: fresh[i]?._id as string,
          created_at: now,
        })),
        { ordered: false },
      );
    } catch (err) {
      for (const pos of duplicateKeyIndexes(err)) taken.add(claimants[pos] as number);
    }
  }
  for (const i of taken) {
    const key = inputs[i]?.idempotencyKey as string;
    // Taken: by a message within the window (a repeat), or by an expired one (claim it).
    if (!(await claimKey(deps, key, fresh[i] as MessageDoc))) {
      results[i] = { message: await firstMessage(deps, key), repeated: true };
    }
  }
  inputs.forEach((input, i) => {
    const first =
      input.idempotencyKey === null ? i : (firstIndexOfKey.get(input.idempotencyKey) as number);
    if (first !== i)
      results[i] = {
        message: results[first]?.message ?? (fresh[first] as MessageDoc),
        repeated: true,
      };
  });

  const toStore = fresh.filter((_, i) => results[i] === null);
  const releaseKeys = (docs: MessageDoc[]) => {
    const keys = docs.map((m) => m.idempotency_key).filter((k): k is string => k !== null);
    return keys.length > 0
      ? idempotency.deleteMany({ _id: { $in: keys } }).catch(() => undefined)
      : undefined;
  };
  if (toStore.length > 0) {
    try {
      await messages.insertMany(toStore, { ordered: false });
    } catch (err) {
      await releaseKeys(toStore);
      throw err;
    }
  }
  const outcomes = await Promise.allSettled(toStore.map((m) => publishToStream(deps, m)));
  const failed = toStore.filter((_, k) => outcomes[k]?.status === 'rejected');
  if (failed.length > 0) {
    deps.log.error(
      {
        count: failed.length,
        err: (outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason,
      },
      'JetStream did not acknowledge messages',
    );
    // Not accepted: take back what was stored so a retry starts clean.
    await messages.deleteMany({ _id: { $in: failed.map((m) => m._id) } }).catch(() => undefined);
    await releaseKeys(failed);
    const failedIds = new Set(failed.map((m) => m._id));
    throw new ApiError('publish_failed', undefined, {
      failed: fresh.map((m, i) => (failedIds.has(m._id) ? i : -1)).filter((i) => i >= 0),
      accepted: fresh
        .filter((m, i) => results[i] === null && !failedIds.has(m._id))
        .map((m) => m._id),
    });
  }
  return fresh.map((m, i) => results[i] ?? { message: m, repeated: false });
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

/**
 * Removes what is older than HOOKLINE_RETENTION: messages, finished deliveries and their
 * attempts (a delivery still pending is kept, whatever its age). FerretDB has no TTL
 * indexes, so this sweep is how data expires there; it runs every ten minutes.
 */
export async function sweepRetention(
  deps: Pick<RegistryDeps, 'mongo' | 'config'>,
): Promise<{ messages: number; deliveries: number; attempts: number }> {
  const before = new Date(Date.now() - deps.config.retention);
  const col = deps.mongo.col;
  const [m, a, legacy] = await Promise.all([
    col.messages.deleteMany({ created_at: { $lt: before } }),
    col.attempts.deleteMany({ created_at: { $lt: before } }),
    // Deliveries that ended before outcomes were kept apart.
    col.deliveries.deleteMany({
      created_at: { $lt: before },
      status: { $in: ['succeeded', 'failed'] },
    }),
  ]);
  // A delivery has ended when it has an outcome in its current generation.
  let deliveries = legacy.deletedCount;
  for (;;) {
    const ended = await col.outcomes
      .find({ created_at: { $lt: before } })
      .limit(SWEEP_BATCH)
      .toArray();
    if (ended.length === 0) break;
    const current = await currentOutcomes(col, ended);
    deliveries += await deleteByIds(
      col.deliveries,
      current.map((d) => d._id),
    );
    await deleteByIds(
      col.outcomes,
      ended.map((o) => o._id),
    );
    if (ended.length < SWEEP_BATCH) break;
  }
  return { messages: m.deletedCount, deliveries, attempts: a.deletedCount };
}

const SWEEP_BATCH = 1000;

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
  await publishEvent(deps.js, deps.config.namespace, {
    id: message._id,
    topic: message.topic,
    data: message.data,
    at: message.created_at,
    recorded: true,
    changesSeq: deps.announcer.lastSeq,
  });
}
