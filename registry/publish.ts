import { ApiError } from '../core/errors.js';
import { crashPoint } from '../core/faults.js';
import { newId } from '../core/ids.js';
import type { IdempotencyDoc, MessageDoc } from '../core/model.js';
import { duplicateKeyIndexes, isDuplicateKey } from '../core/mongo.js';
import { publishEvent } from '../core/publish.js';
import { currentOutcomes, deleteByIds } from '../core/deliveries.js';
import type { RegistryDeps } from './context.js';

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
 * (one round trip per step for the whole batch, the publishes in flight together).
 *
 * A message without a key is recorded, then published; if JetStream refuses it, the
 * record is taken back and `publish_failed` names it.
 *
 * A message with a key is claimed first: one insert of the key that carries the whole
 * message, so there is never a key without its message, whenever this process dies. It
 * is then published, and recorded once JetStream has it: a record means "published". A
 * later request with the key answers the message the key holds; when that one has no
 * record yet (its first request is still running, failed, or died), the repeat publishes
 * it — under the same id, so JetStream drops the copy if the first got there — and
 * records it. The key is kept when publishing fails, so a retry finishes the first
 * message instead of starting another.
 */
export async function publishMany(
  deps: RegistryDeps,
  inputs: readonly PublishInput[],
): Promise<Published[]> {
  const now = new Date();
  const fresh: MessageDoc[] = inputs.map((input) => ({
    _id: newId('msg'),
    topic: input.topic,
    data: input.data ?? null,
    idempotency_key: input.idempotencyKey,
    created_at: now,
  }));
  /** Per input: the message it answers, and whether it repeats an earlier one. */
  const answer: Array<Published | null> = inputs.map(() => null);

  // Keys: the first use of a key in the batch claims it; a later one repeats it.
  const firstIndexOfKey = new Map<string, number>();
  const claimants: number[] = [];
  inputs.forEach((input, i) => {
    if (input.idempotencyKey === null || firstIndexOfKey.has(input.idempotencyKey)) return;
    firstIndexOfKey.set(input.idempotencyKey, i);
    claimants.push(i);
  });
  /** Messages published before they are recorded: keyed ones, fresh or unfinished repeats. */
  const publishFirst: MessageDoc[] = [];
  if (claimants.length > 0) {
    const taken = await claimKeys(
      deps,
      claimants.map((i) => fresh[i] as MessageDoc),
    );
    for (const [k, i] of claimants.entries()) {
      const mine = fresh[i] as MessageDoc;
      const held = taken[k];
      if (!held) {
        publishFirst.push(mine);
        continue;
      }
      answer[i] = { message: held.message, repeated: true };
      if (!held.recorded) publishFirst.push(held.message);
    }
  }
  inputs.forEach((input, i) => {
    if (input.idempotencyKey === null) return;
    const first = firstIndexOfKey.get(input.idempotencyKey) as number;
    if (first !== i)
      answer[i] = {
        message: answer[first]?.message ?? (fresh[first] as MessageDoc),
        repeated: true,
      };
  });
  crashPoint(deps.config, 'publish.claimed');

  const recordFirst = fresh.filter((m) => m.idempotency_key === null);
  const { messages } = deps.mongo.col;
  if (recordFirst.length > 0) await messages.insertMany(recordFirst, { ordered: false });
  const toPublish = [...recordFirst, ...publishFirst];
  const outcomes = await Promise.allSettled(toPublish.map((m) => publishToStream(deps, m)));
  const failedIds = new Set(
    toPublish.filter((_, k) => outcomes[k]?.status === 'rejected').map((m) => m._id),
  );
  // Recorded once JetStream has them; a repeat that finds no record publishes again.
  const published = publishFirst.filter((m) => !failedIds.has(m._id));
  let unrecorded: unknown = null;
  if (published.length > 0) {
    try {
      await messages.insertMany(published, { ordered: false });
    } catch (err) {
      try {
        duplicateKeyIndexes(err); // a concurrent repeat recorded it first: fine
      } catch {
        unrecorded = err;
      }
    }
  }
  if (failedIds.size > 0) {
    deps.log.error(
      {
        count: failedIds.size,
        err: (outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason,
      },
      'JetStream did not acknowledge messages',
    );
    // Not accepted: take back the records so nothing unpublished is listed. Keys stay
    // with their message, which a retry with the key publishes.
    const failedRecords = recordFirst.filter((m) => failedIds.has(m._id)).map((m) => m._id);
    if (failedRecords.length > 0)
      await messages.deleteMany({ _id: { $in: failedRecords } }).catch(() => undefined);
    const accepted = (m: MessageDoc) => !failedIds.has(m._id);
    throw new ApiError('publish_failed', undefined, {
      failed: inputs
        .map((_, i) => i)
        .filter((i) => !accepted(answer[i]?.message ?? (fresh[i] as MessageDoc))),
      accepted: fresh.filter((m, i) => answer[i] === null && accepted(m)).map((m) => m._id),
    });
  }
  // JetStream has them, but a keyed message without its record is not finished: the
  // client's retry with the key records it.
  if (unrecorded) {
    deps.log.error({ err: unrecorded }, 'published messages could not be recorded');
    throw new ApiError(
      'unavailable',
      'The store did not record the message; retry with the same idempotency key to finish it.',
      { accepted: recordFirst.map((m) => m._id) },
    );
  }
  return fresh.map((m, i) => answer[i] ?? { message: m, repeated: false });
}

/** A key held by an earlier message: that message, and whether it is recorded (published). */
interface Held {
  message: MessageDoc;
  recorded: boolean;
}

function keyDoc(m: MessageDoc): IdempotencyDoc {
  return {
    _id: m.idempotency_key as string,
    message_id: m._id,
    topic: m.topic,
    data: m.data,
    created_at: m.created_at,
  };
}

/**
 * Claims each message's key, in one insert for all. Per message: null when it claimed
 * its key, else what holds the key. A key past the window is removed and claimed afresh.
 */
async function claimKeys(deps: RegistryDeps, msgs: MessageDoc[]): Promise<Array<Held | null>> {
  const { idempotency } = deps.mongo.col;
  const out: Array<Held | null> = msgs.map(() => null);
  let taken: number[] = [];
  try {
    await idempotency.insertMany(msgs.map(keyDoc), { ordered: false });
  } catch (err) {
    taken = duplicateKeyIndexes(err);
  }
  for (const k of taken) out[k] = await heldOrClaim(deps, msgs[k] as MessageDoc);
  return out;
}

async function heldOrClaim(deps: RegistryDeps, mine: MessageDoc): Promise<Held | null> {
  const { idempotency, messages } = deps.mongo.col;
  const key = mine.idempotency_key as string;
  for (let round = 0; round < 3; round++) {
    const doc = await idempotency.findOne({ _id: key });
    if (doc) {
      const expired = doc.created_at.getTime() < Date.now() - IDEMPOTENCY_WINDOW_MS;
      const record = expired ? null : await messages.findOne({ _id: doc.message_id });
      if (record) return { message: record, recorded: true };
      if (!expired && doc.topic !== undefined) {
        const message: MessageDoc = {
          _id: doc.message_id,
          topic: doc.topic,
          data: doc.data ?? null,
          idempotency_key: key,
          created_at: doc.created_at,
        };
        return { message, recorded: false };
      }
      // Past the window, or a key of an earlier release that holds no message and never
      // got its record (its request died between two writes): free to claim.
      await idempotency.deleteOne({ _id: key, message_id: doc.message_id });
    }
    try {
      await idempotency.insertOne(keyDoc(mine));
      return null;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      // Someone claimed it meanwhile: read it again.
    }
  }
  throw new ApiError('unavailable', 'The idempotency key is contended; retry shortly.');
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

/** How long a publish waits for JetStream's PubAck before it answers 503. */
const PUBACK_TIMEOUT_MS = 5_000;

async function publishToStream(deps: RegistryDeps, message: MessageDoc): Promise<void> {
  await publishEvent(
    deps.js,
    deps.config.namespace,
    {
      id: message._id,
      topic: message.topic,
      data: message.data,
      at: message.created_at,
      recorded: true,
      changesSeq: deps.announcer.lastSeq,
    },
    PUBACK_TIMEOUT_MS,
  );
}
