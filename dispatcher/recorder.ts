import type { Filter, UpdateFilter } from 'mongodb';
import { createWriteBatcher } from '../core/batch.js';
import type { AttemptDoc, DeliveryDoc } from '../core/model.js';
import type { Mongo } from '../core/mongo.js';

interface StateChange {
  deliveryId: string;
  generation: number;
  set: Partial<DeliveryDoc>;
  incAttempts: boolean;
}

type Write = { kind: 'attempt'; doc: AttemptDoc } | { kind: 'state'; change: StateChange };

/**
 * Every attempt and state change goes through here and reaches MongoDB in batches. Per
 * flush: one insertMany of the attempts, and one updateMany per distinct change (most
 * deliveries end the same way: "succeeded, HTTP 200"), matching the deliveries by id.
 * Grouping matters beyond round trips: FerretDB does not push update filters down to its
 * store, so each update statement scans the collection — one scan per group, not per
 * delivery.
 */
export function createRecorder(mongo: Mongo) {
  const batcher = createWriteBatcher<Write>(async (items) => {
    const attempts: AttemptDoc[] = [];
    const groups = new Map<
      string,
      { generation: number; update: UpdateFilter<DeliveryDoc>; ids: string[] }
    >();
    const now = new Date();
    for (const w of items) {
      if (w.kind === 'attempt') {
        attempts.push(w.doc);
        continue;
      }
      const { change } = w;
      const update: UpdateFilter<DeliveryDoc> = change.incAttempts
        ? { $set: { ...change.set, updated_at: now }, $inc: { attempts: 1 } }
        : { $set: { ...change.set, updated_at: now } };
      const key = `${change.generation}|${JSON.stringify(update)}`;
      const g = groups.get(key);
      if (g) g.ids.push(change.deliveryId);
      else groups.set(key, { generation: change.generation, update, ids: [change.deliveryId] });
    }
    if (attempts.length > 0) await mongo.col.attempts.insertMany(attempts, { ordered: false });
    for (const g of groups.values()) {
      // The generation guard: a manual retry that started meanwhile wins.
      const filter: Filter<DeliveryDoc> =
        g.ids.length === 1
          ? { _id: g.ids[0] as string, generation: g.generation }
          : { _id: { $in: g.ids }, generation: g.generation };
      await mongo.col.deliveries.updateMany(filter, g.update);
    }
  });

  return {
    /** Records an attempt and the delivery's new state; resolves once both are stored. */
    record(attempt: AttemptDoc | null, change: StateChange): Promise<void> {
      const writes: Promise<void>[] = [batcher.add({ kind: 'state', change })];
      if (attempt) writes.push(batcher.add({ kind: 'attempt', doc: attempt }));
      return Promise.all(writes).then(() => undefined);
    },
    idle: () => batcher.idle(),
  };
}
export type Recorder = ReturnType<typeof createRecorder>;
