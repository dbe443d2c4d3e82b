import type { AnyBulkWriteOperation } from 'mongodb';
import { createWriteBatcher } from '../core/batch.js';
import type { AttemptDoc, DeliveryDoc } from '../core/model.js';
import type { Mongo } from '../core/mongo.js';

type Write =
  | { kind: 'attempt'; doc: AttemptDoc }
  | { kind: 'delivery'; op: AnyBulkWriteOperation<DeliveryDoc> };

/**
 * Every attempt and status change goes through here and reaches MongoDB in batches: one
 * bulkWrite per collection per flush, however many deliveries finished meanwhile.
 */
export function createRecorder(mongo: Mongo) {
  const batcher = createWriteBatcher<Write>(async (items) => {
    const attempts: AttemptDoc[] = [];
    const ops: AnyBulkWriteOperation<DeliveryDoc>[] = [];
    for (const w of items) {
      if (w.kind === 'attempt') attempts.push(w.doc);
      else ops.push(w.op);
    }
    await Promise.all([
      attempts.length > 0 ? mongo.col.attempts.insertMany(attempts, { ordered: false }) : null,
      ops.length > 0 ? mongo.col.deliveries.bulkWrite(ops, { ordered: false }) : null,
    ]);
  });

  return {
    /** Records an attempt and the delivery's new state; resolves once both are stored. */
    record(
      attempt: AttemptDoc | null,
      deliveryId: string,
      generation: number,
      set: Partial<DeliveryDoc>,
      inc?: Partial<Record<'attempts', number>>,
    ) {
      const update: AnyBulkWriteOperation<DeliveryDoc> = {
        updateOne: {
          // The generation guard: a manual retry that started meanwhile wins.
          filter: { _id: deliveryId, generation },
          update: inc ? { $set: set, $inc: inc } : { $set: set },
        },
      };
      const writes: Promise<void>[] = [batcher.add({ kind: 'delivery', op: update })];
      if (attempt) writes.push(batcher.add({ kind: 'attempt', doc: attempt }));
      return Promise.all(writes).then(() => undefined);
    },
    idle: () => batcher.idle(),
  };
}
export type Recorder = ReturnType<typeof createRecorder>;
