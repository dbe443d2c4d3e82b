// One-time migrations of stored data, run by the registry at start.
import { currentOutcomes } from '../core/deliveries.js';
import type { FailedDoc, OutcomeDoc } from '../core/model.js';
import { duplicateKeyIndexes, type Mongo } from '../core/mongo.js';

const FAILED_INDEX = 'migrated_failed_index_v1';
const CHUNK = 500;

/**
 * Fills `failed` (FailedDoc) with the deliveries that failed before it existed, once per
 * database: those count in the stats' backlog and are taken by bulk retries like the
 * others. It reads every outcome once (a scan on FerretDB), in the background. Two
 * registries starting at once both run it, harmlessly: an entry stored already is kept.
 * The marker is written at the end, so a registry stopped midway runs it again.
 */
export async function backfillFailed(mongo: Pick<Mongo, 'col'>): Promise<number | null> {
  const { settings, outcomes, failed } = mongo.col;
  if (await settings.findOne({ _id: FAILED_INDEX })) return null;
  let added = 0;
  let batch: OutcomeDoc[] = [];
  const flush = async () => {
    const current = await currentOutcomes(mongo.col, batch);
    batch = [];
    const docs: FailedDoc[] = current
      .filter((d) => d.status === 'failed')
      .map((d) => {
        const f: FailedDoc = {
          _id: d._id,
          endpoint_id: d.endpoint_id,
          topic: d.topic,
          message_id: d.message_id,
          generation: d.generation,
          created_at: d.created_at,
          failed_at: d.updated_at,
        };
        if (d.owner_id) f.owner_id = d.owner_id;
        return f;
      });
    if (docs.length === 0) return;
    try {
      await failed.insertMany(docs, { ordered: false });
      added += docs.length;
    } catch (err) {
      added += docs.length - duplicateKeyIndexes(err).length;
    }
  };
  for await (const o of outcomes.find({ status: 'failed' })) {
    batch.push(o);
    if (batch.length >= CHUNK) await flush();
  }
  if (batch.length > 0) await flush();
  await settings
    .insertOne({ _id: FAILED_INDEX, value: String(added), created_at: new Date() })
    .catch(() => undefined);
  return added;
}
