import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import type { Collections } from './mongo.js';
import type { AttemptDoc, DeliveryDoc, OutcomeDoc } from './model.js';

/**
 * A delivery's state lives in two documents: the delivery, written at fan-out and updated
 * only while attempts are being rescheduled, and at most one outcome per generation,
 * inserted once when the delivery succeeds or fails for good. Readers merge the two here.
 *
 * Why: an update is the expensive write on MongoDB-wire servers without a real storage
 * engine underneath (on FerretDB each one is its own transaction, about a millisecond and a
 * half, while inserts in a batch cost a few hundredths of that), and most deliveries end
 * after one attempt. Inserting their ending instead of updating the delivery takes the
 * update off the path that carries nearly all the traffic.
 */
export function outcomeId(deliveryId: string, generation: number): string {
  return `${deliveryId}:${generation}`;
}

export function outcomeOf(
  d: DeliveryDoc,
  status: OutcomeDoc['status'],
  attempt: AttemptDoc | null,
  now: Date,
): OutcomeDoc {
  // Field by field rather than spread: this runs for every delivery.
  return {
    _id: outcomeId(d._id, d.generation),
    delivery_id: d._id,
    message_id: d.message_id,
    endpoint_id: d.endpoint_id,
    owner_id: d.owner_id ?? null,
    topic: d.topic,
    status,
    attempts: d.attempts,
    max_attempts: d.max_attempts,
    generation: d.generation,
    next_attempt_at: null,
    last_status_code: d.last_status_code ?? null,
    last_error: d.last_error ?? null,
    created_at: d.created_at,
    updated_at: now,
    attempt,
  };
}

/**
 * A delivery as fan-out stores it: only what a fresh delivery's defaults (withDefaults)
 * do not say already. Fewer fields, cheaper inserts.
 */
export function newDelivery(p: {
  id: string;
  messageId: string;
  endpointId: string;
  ownerId: string | null;
  topic: string;
  maxAttempts: number;
  createdAt: Date;
}): DeliveryDoc {
  return {
    _id: p.id,
    message_id: p.messageId,
    endpoint_id: p.endpointId,
    ...(p.ownerId ? { owner_id: p.ownerId } : {}),
    topic: p.topic,
    status: 'pending',
    attempts: 0,
    max_attempts: p.maxAttempts,
    generation: 0,
    created_at: p.createdAt,
  } as DeliveryDoc;
}

/**
 * A delivery as read, with the fields fan-out leaves out at their defaults: no owner, no
 * result yet, due at creation, last changed at creation.
 */
export function withDefaults(d: DeliveryDoc): DeliveryDoc {
  return {
    ...d,
    owner_id: d.owner_id ?? null,
    next_attempt_at: d.next_attempt_at === undefined ? d.created_at : d.next_attempt_at,
    last_status_code: d.last_status_code ?? null,
    last_error: d.last_error ?? null,
    updated_at: d.updated_at ?? d.created_at,
  };
}

/** The delivery as it stands: its outcome in its current generation, when it has one. */
export function merged(raw: DeliveryDoc, o: OutcomeDoc | null | undefined): DeliveryDoc {
  const d = withDefaults(raw);
  if (!o || o.generation !== d.generation) return d;
  const { _id, delivery_id, attempt, ...rest } = o;
  return { ...d, ...rest, _id: delivery_id };
}

/** A delivery as it stands, and its outcome in its current generation; or null. */
export async function loadWithOutcome(
  col: Collections,
  id: string,
): Promise<{ delivery: DeliveryDoc; outcome: OutcomeDoc | null } | null> {
  const d = await col.deliveries.findOne({ _id: id });
  if (!d) return null;
  const outcome = await col.outcomes.findOne({ _id: outcomeId(id, d.generation) });
  return { delivery: merged(d, outcome), outcome };
}

/** A delivery as it stands, or null. */
export async function loadDelivery(col: Collections, id: string): Promise<DeliveryDoc | null> {
  return (await loadWithOutcome(col, id))?.delivery ?? null;
}

/**
 * Merges each delivery with its outcome. One lookup by id per delivery, in parallel: that
 * is the query every MongoDB-wire server answers from its index (FerretDB scans for `$in`).
 */
export async function withOutcomes(col: Collections, docs: DeliveryDoc[]): Promise<DeliveryDoc[]> {
  const outcomes = await Promise.all(
    docs.map((d) =>
      d.status === 'pending' ? col.outcomes.findOne({ _id: outcomeId(d._id, d.generation) }) : null,
    ),
  );
  return docs.map((d, i) => merged(d, outcomes[i]));
}

/** The deliveries of these outcomes, as they stand now: outcomes a manual retry superseded drop out. */
export async function currentOutcomes(
  col: Collections,
  outcomes: OutcomeDoc[],
): Promise<DeliveryDoc[]> {
  const docs = await Promise.all(
    outcomes.map((o) => col.deliveries.findOne({ _id: o.delivery_id })),
  );
  const out: DeliveryDoc[] = [];
  outcomes.forEach((o, i) => {
    const d = docs[i];
    if (d && d.generation === o.generation) out.push(merged(d, o));
  });
  return out;
}

/**
 * Deletes documents by id in bulks of single-id deletes: each is answered from the _id
 * index everywhere, where `{_id: {$in}}` scans on FerretDB. Bulks stay small because
 * FerretDB v1 holds a connection per statement of a bulk until the bulk ends.
 */
export async function deleteByIds<T extends { _id: string }>(
  col: Collection<T>,
  ids: string[],
): Promise<number> {
  let n = 0;
  for (let i = 0; i < ids.length; i += BULK_CHUNK) {
    const ops = ids
      .slice(i, i + BULK_CHUNK)
      .map((id) => ({ deleteOne: { filter: { _id: id } } }) as AnyBulkWriteOperation<T>);
    const res = await col.bulkWrite(ops, { ordered: false });
    n += res.deletedCount;
  }
  return n;
}

/** Statements per bulkWrite of updates or deletes (see deleteByIds). */
export const BULK_CHUNK = 32;
