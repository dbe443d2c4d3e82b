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

/** An open circuit's entry not refreshed for this long is ignored (see circuitView). */
const CIRCUIT_STALE_MS = 5 * 60_000;

/**
 * Open when any dispatcher holds the endpoint's circuit open: since the earliest opening,
 * with the soonest next probe. A live dispatcher probes an open circuit at least once a
 * minute while deliveries wait, and each failed probe refreshes its entry; an entry older
 * than five minutes is a dispatcher that died, or a circuit nobody is waiting on.
 */
export function circuitView(
  circuits: EndpointDoc['circuits'],
  now = Date.now(),
):
  | { state: 'closed' }
  | { state: 'open'; since: string; next_probe_at: string; dispatchers: number } {
  const live = Object.values(circuits ?? {}).filter(
    (c) => c.probe_at.getTime() > now - CIRCUIT_STALE_MS,
  );
  if (live.length === 0) return { state: 'closed' };
  const since = Math.min(...live.map((c) => c.opened_at.getTime()));
  const probe = Math.min(...live.map((c) => c.probe_at.getTime()));
  return {
    state: 'open',
    since: new Date(since).toISOString(),
    next_probe_at: new Date(probe).toISOString(),
    dispatchers: live.length,
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
    circuit: circuitView(e.circuits),
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
