import type { Filter } from 'mongodb';
import { currentOutcomes, withOutcomes } from '../core/deliveries.js';
import type { DeliveryStatus, OutcomeDoc, StoredDelivery } from '../core/model.js';
import type { Collections } from '../core/mongo.js';
import { listPage, type Page } from './pagination.js';
import { type TimeRange, timeFilter } from './schemas.js';
import { deliveryView } from './views.js';

export interface DeliveryFilter {
  endpoint_id?: string;
  message_id?: string;
  owner_id?: string;
  status?: DeliveryStatus;
  topic?: string;
  /** By the delivery's creation time. */
  created?: TimeRange;
}

/**
 * A page of deliveries, newest first, as they stand (core/deliveries.ts). Ended ones are
 * listed from their outcomes; pending ones from the deliveries, less those that have ended
 * since — so a page of pending deliveries may hold fewer than `limit` items and still have
 * a next_cursor. Outcomes do not hold the topic (it would cost every outcome's insert a
 * field), so ended deliveries of one topic are listed from the deliveries too, filtered
 * the same way.
 */
export async function listDeliveries(col: Collections, filter: DeliveryFilter, page: Page) {
  const { status, topic, created, ...ids } = filter;
  const time = timeFilter(created);
  if ((status === 'succeeded' || status === 'failed') && topic === undefined) {
    const f: Filter<OutcomeDoc> = { ...ids, status, ...time };
    const res = await listPage(col.outcomes, f, page, (o) => o);
    const docs = await currentOutcomes(col, res.data);
    return { data: docs.map(deliveryView), next_cursor: res.next_cursor };
  }
  // A pending delivery is stored without its status (StoredDelivery): ask for them all,
  // then keep those in the state asked for.
  const f: Filter<StoredDelivery> = { ...ids, ...time };
  if (topic !== undefined) f.topic = topic;
  const res = await listPage(col.deliveries, f, page, (d) => d);
  let docs = await withOutcomes(col, res.data);
  if (status) docs = docs.filter((d) => d.status === status);
  return { data: docs.map(deliveryView), next_cursor: res.next_cursor };
}
