import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import type { Collections } from './mongo.js';
import type {
  AttemptDoc,
  DeliveryDoc,
  OutcomeAttempt,
  OutcomeDoc,
  StoredDelivery,
} from './model.js';

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

/** The outcome of a delivery that ended, as stored: see OutcomeDoc. */
export function outcomeOf(
  d: DeliveryDoc,
  status: OutcomeDoc['status'],
  attempt: AttemptDoc | null,
  now: Date,
): OutcomeDoc {
  // Field by field rather than spread: this runs for every delivery.
  const o: OutcomeDoc = {
    _id: outcomeId(d._id, d.generation),
    message_id: d.message_id,
    endpoint_id: d.endpoint_id,
    status,
    attempts: d.attempts,
    created_at: d.created_at,
    updated_at: now,
  };
  if (d.owner_id) o.owner_id = d.owner_id;
  if (attempt) {
    const a: OutcomeAttempt = {
      _id: attempt._id,
      status_code: attempt.status_code,
      duration_ms: attempt.duration_ms,
    };
    if (attempt.error !== null) a.error = attempt.error;
    if (attempt.response_body !== '') a.response_body = attempt.response_body;
    if (attempt.created_at.getTime() !== now.getTime()) a.created_at = attempt.created_at;
    o.attempt = a;
    // The delivery's last result is the attempt's, unless told otherwise.
    if ((d.last_status_code ?? null) !== attempt.status_code)
      o.last_status_code = d.last_status_code ?? null;
    if ((d.last_error ?? null) !== attempt.error) o.last_error = d.last_error ?? null;
  } else {
    o.last_status_code = d.last_status_code ?? null;
    o.last_error = d.last_error ?? null;
  }
  return o;
}

/** The delivery an outcome belongs to, and its generation, from the outcome's `_id`. */
function outcomeKey(o: OutcomeDoc): { deliveryId: string; generation: number } {
  const at = o._id.lastIndexOf(':');
  return {
    deliveryId: o.delivery_id ?? o._id.slice(0, at),
    generation: o.generation ?? Number(o._id.slice(at + 1)),
  };
}

/** The attempt that ended a delivery, whole; null when none did. */
export function attemptOf(o: OutcomeDoc | null | undefined): AttemptDoc | null {
  const a = o?.attempt;
  if (!o || !a) return null;
  const stored = a as OutcomeAttempt & Partial<AttemptDoc>;
  return {
    _id: a._id,
    delivery_id: stored.delivery_id ?? outcomeKey(o).deliveryId,
    message_id: stored.message_id ?? o.message_id,
    endpoint_id: stored.endpoint_id ?? o.endpoint_id,
    status_code: a.status_code ?? null,
    error: a.error ?? null,
    duration_ms: a.duration_ms,
    response_body: a.response_body ?? '',
    created_at: a.created_at ?? o.updated_at,
  };
}

/** A delivery as fan-out stores it: see StoredDelivery. */
export function newDelivery(p: {
  id: string;
  messageId: string;
  endpointId: string;
  ownerId: string | null;
  topic: string;
  maxAttempts: number;
  createdAt: Date;
}): StoredDelivery {
  const d: StoredDelivery = {
    _id: p.id,
    message_id: p.messageId,
    endpoint_id: p.endpointId,
    topic: p.topic,
    max_attempts: p.maxAttempts,
    created_at: p.createdAt,
  };
  if (p.ownerId) d.owner_id = p.ownerId;
  return d;
}

/**
 * A delivery as read, with the fields fan-out leaves out at their defaults: no owner,
 * pending, no attempt yet, generation 0, no result yet, due at creation, last changed at
 * creation.
 */
export function withDefaults(d: StoredDelivery): DeliveryDoc {
  // Field by field rather than spread: this runs for every delivery (a spread of a
  // document whose fields vary took 3–4 % of a dispatcher's time in a profile).
  return {
    _id: d._id,
    message_id: d.message_id,
    endpoint_id: d.endpoint_id,
    owner_id: d.owner_id ?? null,
    topic: d.topic,
    status: d.status ?? 'pending',
    attempts: d.attempts ?? 0,
    max_attempts: d.max_attempts,
    generation: d.generation ?? 0,
    next_attempt_at: d.next_attempt_at === undefined ? d.created_at : d.next_attempt_at,
    last_status_code: d.last_status_code ?? null,
    last_error: d.last_error ?? null,
    created_at: d.created_at,
    updated_at: d.updated_at ?? d.created_at,
  };
}

/**
 * The delivery as it stands (`d` as withDefaults gives it): its outcome in its current
 * generation, when it has one.
 */
export function merged(d: DeliveryDoc, o: OutcomeDoc | null | undefined): DeliveryDoc {
  if (!o || outcomeKey(o).generation !== d.generation) return d;
  const a = o.attempt;
  return {
    ...d,
    status: o.status,
    attempts: o.attempts,
    next_attempt_at: null,
    last_status_code:
      o.last_status_code !== undefined ? o.last_status_code : (a?.status_code ?? null),
    last_error: o.last_error !== undefined ? o.last_error : (a?.error ?? null),
    updated_at: o.updated_at,
  };
}

/** A delivery as it stands, and its outcome in its current generation; or null. */
export async function loadWithOutcome(
  col: Collections,
  id: string,
): Promise<{ delivery: DeliveryDoc; outcome: OutcomeDoc | null } | null> {
  const raw = await col.deliveries.findOne({ _id: id });
  if (!raw) return null;
  const d = withDefaults(raw);
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
export async function withOutcomes(
  col: Collections,
  stored: StoredDelivery[],
): Promise<DeliveryDoc[]> {
  const docs = stored.map(withDefaults);
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
  const keys = outcomes.map(outcomeKey);
  const docs = await Promise.all(keys.map((k) => col.deliveries.findOne({ _id: k.deliveryId })));
  const out: DeliveryDoc[] = [];
  outcomes.forEach((o, i) => {
    const raw = docs[i];
    const d = raw ? withDefaults(raw) : null;
    if (d && d.generation === keys[i]?.generation) out.push(merged(d, o));
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
