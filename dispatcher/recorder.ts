import type { AnyBulkWriteOperation } from 'mongodb';
import { createWriteBatcher } from '../core/batch.js';
import { BULK_CHUNK } from '../core/deliveries.js';
import type { Semaphore } from '../core/lifecycle.js';
import type {
  AttemptDoc,
  DeliveryDoc,
  FailedDoc,
  OutcomeDoc,
  StoredDelivery,
} from '../core/model.js';
import { duplicateKeyIndexes, type Mongo } from '../core/mongo.js';
import type { Counters } from './counters.js';

/** A delivery that goes on: its attempt count, next attempt and last result. */
export interface Reschedule {
  deliveryId: string;
  set: Partial<DeliveryDoc>;
  incAttempts: boolean;
}

/**
 * What follows an attempt (or a decision not to make one): the delivery ends (the outcome
 * holds the attempt that ended it), or it goes on (the attempt is stored on its own).
 */
export type Next =
  | { kind: 'outcome'; doc: OutcomeDoc; topic: string }
  | { kind: 'reschedule'; change: Reschedule; attempt: AttemptDoc | null; ownerId: string | null };

/**
 * Every attempt and delivery state change goes through here and reaches MongoDB in
 * batches. Per flush: one insertMany of the attempts, one of the outcomes (deliveries that
 * ended, each with the attempt that ended it), and the reschedules as updates by id in
 * small bulks. The common path — one attempt, 2xx — is one insert: see core/deliveries.ts.
 * A delivery that failed for good is also inserted into `failed` (FailedDoc), in the same
 * flush. Once a flush is stored, its attempts are counted into the stats counters (in
 * memory; they are written apart, at most once a second: dispatcher/counters.ts).
 */
export function createRecorder(mongo: Mongo, lane: Semaphore, counters?: Counters) {
  const batcher = createWriteBatcher<Next>(async (items) => {
    await lane.acquire();
    try {
      await flush(items);
    } finally {
      lane.release();
    }
  });

  async function flush(items: Next[]) {
    const attempts: AttemptDoc[] = [];
    const outcomes: OutcomeDoc[] = [];
    const failed: FailedDoc[] = [];
    const updates: AnyBulkWriteOperation<StoredDelivery>[] = [];
    const now = new Date();
    for (const w of items) {
      if (w.kind === 'outcome') {
        outcomes.push(w.doc);
        if (w.doc.status === 'failed') failed.push(failedOf(w.doc, w.topic));
      } else {
        const { change } = w;
        if (w.attempt) attempts.push(w.attempt);
        updates.push({
          updateOne: {
            // By id alone: the one filter every MongoDB-wire server answers from its index.
            // No generation guard is needed: a manual retry (a new generation) is only
            // accepted once the delivery has an outcome, and then nothing reschedules it.
            filter: { _id: change.deliveryId },
            update: change.incAttempts
              ? { $set: { ...change.set, updated_at: now }, $inc: { attempts: 1 } }
              : { $set: { ...change.set, updated_at: now } },
          },
        });
      }
    }
    const writes: Promise<unknown>[] = [];
    if (attempts.length > 0)
      writes.push(mongo.col.attempts.insertMany(attempts, { ordered: false }));
    if (outcomes.length > 0)
      writes.push(
        // An outcome stored already (an attempt repeated after a crash) stands.
        mongo.col.outcomes.insertMany(outcomes, { ordered: false }).catch(duplicateKeyIndexes),
      );
    if (failed.length > 0)
      writes.push(
        mongo.col.failed.insertMany(failed, { ordered: false }).catch(duplicateKeyIndexes),
      );
    writes.push(
      (async () => {
        for (let i = 0; i < updates.length; i += BULK_CHUNK)
          await mongo.col.deliveries.bulkWrite(updates.slice(i, i + BULK_CHUNK), {
            ordered: false,
          });
      })(),
    );
    await Promise.all(writes);
    if (counters) for (const w of items) countAttempt(counters, w);
  }

  return {
    /** Records what follows an attempt, with the attempt; resolves once it is stored. */
    record: (next: Next): Promise<void> => batcher.add(next),
    idle: () => batcher.idle(),
  };
}
export type Recorder = ReturnType<typeof createRecorder>;

function failedOf(o: OutcomeDoc, topic: string): FailedDoc {
  const at = o._id.lastIndexOf(':');
  const f: FailedDoc = {
    _id: o.delivery_id ?? o._id.slice(0, at),
    endpoint_id: o.endpoint_id,
    topic,
    message_id: o.message_id,
    generation: o.generation ?? Number(o._id.slice(at + 1)),
    created_at: o.created_at,
    failed_at: o.updated_at,
  };
  if (o.owner_id) f.owner_id = o.owner_id;
  return f;
}

/** The attempt a write carries, if any, into the stats counters. */
function countAttempt(counters: Counters, w: Next): void {
  if (w.kind === 'outcome') {
    const a = w.doc.attempt;
    if (!a) return;
    counters.count({
      endpointId: w.doc.endpoint_id,
      ownerId: w.doc.owner_id ?? null,
      ok: isSuccess(a.status_code),
      durationMs: a.duration_ms,
      error: a.error ?? null,
      at: (a.created_at ?? w.doc.updated_at).getTime(),
    });
    return;
  }
  const a = w.attempt;
  if (!a) return;
  counters.count({
    endpointId: a.endpoint_id,
    ownerId: w.ownerId,
    ok: isSuccess(a.status_code),
    durationMs: a.duration_ms,
    error: a.error,
    at: a.created_at.getTime(),
  });
}

const isSuccess = (code: number | null) => code !== null && code >= 200 && code <= 299;
