import type { AnyBulkWriteOperation } from 'mongodb';
import { createWriteBatcher } from '../core/batch.js';
import { BULK_CHUNK } from '../core/deliveries.js';
import type { Semaphore } from '../core/lifecycle.js';
import type { AttemptDoc, DeliveryDoc, OutcomeDoc, StoredDelivery } from '../core/model.js';
import { duplicateKeyIndexes, type Mongo } from '../core/mongo.js';

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
  | { kind: 'outcome'; doc: OutcomeDoc }
  | { kind: 'reschedule'; change: Reschedule; attempt: AttemptDoc | null };

/**
 * Every attempt and delivery state change goes through here and reaches MongoDB in
 * batches. Per flush: one insertMany of the attempts, one of the outcomes (deliveries that
 * ended, each with the attempt that ended it), and the reschedules as updates by id in
 * small bulks. The common path — one attempt, 2xx — is one insert: see core/deliveries.ts.
 */
export function createRecorder(mongo: Mongo, lane: Semaphore) {
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
    const updates: AnyBulkWriteOperation<StoredDelivery>[] = [];
    const now = new Date();
    for (const w of items) {
      if (w.kind === 'outcome') outcomes.push(w.doc);
      else {
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
    writes.push(
      (async () => {
        for (let i = 0; i < updates.length; i += BULK_CHUNK)
          await mongo.col.deliveries.bulkWrite(updates.slice(i, i + BULK_CHUNK), {
            ordered: false,
          });
      })(),
    );
    await Promise.all(writes);
  }

  return {
    /** Records what follows an attempt, with the attempt; resolves once it is stored. */
    record: (next: Next): Promise<void> => batcher.add(next),
    idle: () => batcher.idle(),
  };
}
export type Recorder = ReturnType<typeof createRecorder>;
