import type { AnyBulkWriteOperation } from 'mongodb';
import { createWriteBatcher } from '../core/batch.js';
import { BULK_CHUNK } from '../core/deliveries.js';
import type { Semaphore } from '../core/lifecycle.js';
import type { AttemptDoc, DeliveryDoc, OutcomeDoc } from '../core/model.js';
import { duplicateKeyIndexes, type Mongo } from '../core/mongo.js';

/** A delivery that goes on: its attempt count, next attempt and last result. */
export interface Reschedule {
  deliveryId: string;
  set: Partial<DeliveryDoc>;
  incAttempts: boolean;
}

/** What follows an attempt (or a decision not to make one). */
export type Next =
  | { kind: 'outcome'; doc: OutcomeDoc }
  | { kind: 'reschedule'; change: Reschedule };

type Write = { kind: 'attempt'; doc: AttemptDoc } | Next;

/**
 * Every attempt and delivery state change goes through here and reaches MongoDB in
 * batches. Per flush: one insertMany of the attempts, one of the outcomes (deliveries that
 * ended, each with the attempt that ended it), and the reschedules as updates by id in
 * small bulks. The common path — one attempt, 2xx — is one insert: see core/deliveries.ts.
 */
export function createRecorder(mongo: Mongo, lane: Semaphore) {
  const batcher = createWriteBatcher<Write>(async (items) => {
    await lane.acquire();
    try {
      await flush(items);
    } finally {
      lane.release();
    }
  });

  async function flush(items: Write[]) {
    const attempts: AttemptDoc[] = [];
    const outcomes: OutcomeDoc[] = [];
    const updates: AnyBulkWriteOperation<DeliveryDoc>[] = [];
    const now = new Date();
    for (const w of items) {
      if (w.kind === 'attempt') attempts.push(w.doc);
      else if (w.kind === 'outcome') outcomes.push(w.doc);
      else {
        const { change } = w;
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
    /** Records an attempt and what follows it; resolves once both are stored. */
    record(attempt: AttemptDoc | null, next: Next): Promise<void> {
      // The attempt that ends a delivery is stored inside its outcome: one write, not two.
      if (next.kind === 'outcome') return batcher.add({ ...next, doc: { ...next.doc, attempt } });
      const writes: Promise<void>[] = [batcher.add(next)];
      if (attempt) writes.push(batcher.add({ kind: 'attempt', doc: attempt }));
      return Promise.all(writes).then(() => undefined);
    },
    idle: () => batcher.idle(),
  };
}
export type Recorder = ReturnType<typeof createRecorder>;
