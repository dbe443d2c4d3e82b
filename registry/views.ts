import type { AttemptDoc, DeliveryDoc, EndpointDoc, MessageDoc, TopicDoc } from '../core/model.js';

/** What the API shows of each stored document. Secrets appear only where a route adds them. */

export function topicView(t: TopicDoc) {
  return {
    id: t._id,
    name: t.name,
    description: t.description,
    created_at: t.created_at.toISOString(),
  };
}

export function endpointView(e: EndpointDoc, secret?: string) {
  return {
    id: e._id,
    url: e.url,
    owner_id: e.owner_id ?? null,
    topics: e.topics,
    description: e.description,
    status: e.status,
    rate_limit: e.rate_limit,
    headers: e.headers ?? {},
    disabled_reason: e.disabled_reason,
    failing_since: e.failing_since ? e.failing_since.toISOString() : null,
    created_at: e.created_at.toISOString(),
    updated_at: e.updated_at.toISOString(),
    ...(secret === undefined ? {} : { secret }),
  };
}

export function messageView(m: MessageDoc) {
  return {
    id: m._id,
    topic: m.topic,
    data: m.data,
    idempotency_key: m.idempotency_key,
    created_at: m.created_at.toISOString(),
  };
}

export function deliveryView(d: DeliveryDoc) {
  return {
    id: d._id,
    message_id: d.message_id,
    endpoint_id: d.endpoint_id,
    topic: d.topic,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: d.next_attempt_at ? d.next_attempt_at.toISOString() : null,
    last_status_code: d.last_status_code,
    last_error: d.last_error,
    created_at: d.created_at.toISOString(),
    updated_at: d.updated_at.toISOString(),
  };
}

export function attemptView(a: AttemptDoc) {
  return {
    id: a._id,
    delivery_id: a.delivery_id,
    status_code: a.status_code,
    error: a.error,
    duration_ms: a.duration_ms,
    response_body: a.response_body,
    created_at: a.created_at.toISOString(),
  };
}
