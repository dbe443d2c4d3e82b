import { currentOutcomes, withOutcomes } from '../core/deliveries.js';
import type { DeliveryStatus } from '../core/model.js';
import type { Collections } from '../core/mongo.js';
import { listPage, type Page } from './pagination.js';
import { deliveryView } from './views.js';

export interface DeliveryFilter {
  endpoint_id?: string;
  message_id?: string;
  owner_id?: string;
  status?: DeliveryStatus;
}

/**
 * A page of deliveries, newest first, as they stand (core/deliveries.ts). Ended ones are
 * listed from their outcomes; pending ones from the deliveries, less those that have ended
 * since — so a page of pending deliveries may hold fewer than `limit` items and still have
 * a next_cursor.
 */
export async function listDeliveries(col: Collections, filter: DeliveryFilter, page: Page) {
  if (filter.status === 'succeeded' || filter.status === 'failed') {
    const res = await listPage(col.outcomes, { ...filter, status: filter.status }, page, (o) => o);
    const docs = await currentOutcomes(col, res.data);
    return { data: docs.map(deliveryView), next_cursor: res.next_cursor };
  }
  // A pending delivery is stored without its status (StoredDelivery): ask for them all,
  // then keep those without an outcome.
  const { status, ...unended } = filter;
  const res = await listPage(col.deliveries, unended, page, (d) => d);
  let docs = await withOutcomes(col, res.data);
  if (status === 'pending') docs = docs.filter((d) => d.status === 'pending');
  return { data: docs.map(deliveryView), next_cursor: res.next_cursor };
}
