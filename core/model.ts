/** Documents as stored in MongoDB. The API's views (registry/views.ts) derive from these. */

export interface TopicDoc {
  _id: string; // top_<ulid>: lists sort newest first by id
  name: string;
  description: string;
  created_at: Date;
}

export interface SecretEntry {
  secret: string;
  /** null for the current secret; set on the previous one when the secret is rotated. */
  expires_at: Date | null;
}

export type EndpointStatus = 'pending' | 'active' | 'disabled';

export type PrincipalKind = 'publisher' | 'subscriber';

/** A publisher's token or a subscriber's API key: only its SHA-256 is stored. */
export interface PrincipalDoc {
  _id: string; // pub_<ulid> or sub_<ulid>
  kind: PrincipalKind;
  name: string;
  key_hash: string;
  created_at: Date;
  revoked_at: Date | null;
}

export interface EndpointDoc {
  _id: string;
  /** The subscriber that owns it; null for endpoints made by the admin. */
  owner_id?: string | null;
  url: string;
  topics: string[];
  description: string;
  status: EndpointStatus;
  secrets: SecretEntry[];
  rate_limit: number | null;
  /** Sent with every request to the endpoint; never one of the protocol's headers. */
  headers?: Record<string, string>;
  verification_token_hash: string | null;
  disabled_reason: string | null;
  /** Since when every attempt has failed; null after a success. Drives HOOKLINE_DISABLE_AFTER. */
  failing_since?: Date | null;
  /**
   * Open circuits, by the dispatcher that opened them (each keeps its own breaker): written
   * when one opens or a probe fails, removed when it closes. See registry/views.ts.
   */
  circuits?: Record<string, { opened_at: Date; probe_at: Date }>;
  created_at: Date;
  updated_at: Date;
}

export interface MessageDoc {
  _id: string;
  topic: string;
  data: unknown;
  idempotency_key: string | null;
  created_at: Date;
}

export interface IdempotencyDoc {
  _id: string; // the key
  message_id: string;
  /** The message the key holds, so that the key is never without it (absent before 0.2). */
  topic?: string;
  data?: unknown;
  created_at: Date;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface DeliveryDoc {
  _id: string;
  message_id: string;
  endpoint_id: string;
  /** The endpoint's owner at fan-out, so a subscriber's deliveries are found without a join. */
  owner_id?: string | null;
  topic: string;
  status: DeliveryStatus;
  attempts: number;
  /** How many attempts this delivery may have before it fails. */
  max_attempts: number;
  /** Bumped by a manual retry; a stale JetStream copy with an older generation is dropped. */
  generation: number;
  next_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

/** The fields a delivery is stored without while they hold their defaults (core/deliveries.ts). */
type DefaultedField =
  | 'owner_id'
  | 'status'
  | 'attempts'
  | 'generation'
  | 'next_attempt_at'
  | 'last_status_code'
  | 'last_error'
  | 'updated_at';

/**
 * A delivery as stored. Fan-out writes only what a fresh delivery's defaults do not say
 * (pending, no attempt yet, generation 0, due at creation): on FerretDB an insert costs in
 * proportion to its fields. Rescheduling and manual retries set the rest.
 */
export type StoredDelivery = Omit<DeliveryDoc, DefaultedField> &
  Partial<Pick<DeliveryDoc, DefaultedField>>;

/**
 * How a delivery ended, as stored: written once, by an insert, never updated. The
 * delivery document itself is written at fan-out and changed only while attempts are
 * being rescheduled, so the common path (fan-out, one attempt, 2xx) stores two inserts and
 * no update. It holds what lists of ended deliveries filter and sort by, and what the
 * delivery does not say already: the delivery id and generation are in `_id`, and the
 * attempt's delivery, message and endpoint are the outcome's own. On FerretDB an insert
 * costs in proportion to its fields: this one has 11 where a full copy of the delivery and
 * its attempt had 25, and takes half the time to store (docs/benchmarks.md).
 */
export interface OutcomeDoc {
  _id: string; // outcomeId(delivery_id, generation)
  message_id: string;
  endpoint_id: string;
  /** Only when the delivery has an owner. */
  owner_id?: string | null;
  status: 'succeeded' | 'failed';
  attempts: number;
  /** The delivery's creation time: lists sort by it. */
  created_at: Date;
  updated_at: Date;
  /** Only when no attempt ended the delivery; otherwise the attempt's. */
  last_status_code?: number | null;
  last_error?: string | null;
  attempt?: OutcomeAttempt | null;
  // Outcomes stored by earlier versions also copy the delivery's other fields, these two
  // among them.
  delivery_id?: string;
  generation?: number;
}

/** An outcome's attempt: `error` only when there is one, `response_body` only when not empty, `created_at` only when not the outcome's `updated_at`. */
export interface OutcomeAttempt {
  _id: string;
  status_code: number | null;
  duration_ms: number;
  error?: string | null;
  response_body?: string;
  created_at?: Date;
}

export interface AttemptDoc {
  _id: string;
  delivery_id: string;
  message_id: string;
  endpoint_id: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  response_body: string;
  created_at: Date;
}

export interface SettingDoc {
  _id: string;
  value: string;
  created_at: Date;
}

/** What the registry announces on `<ns>.registry.changes`. Ids only: no secrets on the wire. */
export type ChangeEvent =
  | { kind: 'endpoint'; op: 'upsert' | 'delete'; id: string }
  | { kind: 'resync' };

/**
 * A portal link's single-use code, stored under its SHA-256 as `_id`: found and consumed
 * by id (a delete, whose count says which of two concurrent exchanges won).
 */
export interface PortalCodeDoc {
  _id: string;
  subscriber_id: string;
  expires_at: Date;
  created_at: Date;
}

/** A portal session's token, stored under its SHA-256 as `_id`; it acts as its subscriber. */
export interface PortalSessionDoc {
  _id: string;
  subscriber_id: string;
  expires_at: Date;
  created_at: Date;
}

/**
 * A delivery that failed for good and has not been retried since: one document each,
 * inserted with its failed outcome and removed by a retry or the retention sweep. It keeps
 * the failed ones apart from the (far more numerous) succeeded outcomes, so counting them
 * and retrying them in bulk reads only them.
 */
export interface FailedDoc {
  _id: string; // the delivery id
  endpoint_id: string;
  owner_id?: string;
  topic: string;
  message_id: string;
  generation: number;
  /** The delivery's creation time: filters by time use it, as the lists do. */
  created_at: Date;
  failed_at: Date;
}

export type JobStatus = 'running' | 'done' | 'failed';

/** A background job (bulk retry). Written by the registry process that runs it. */
export interface JobDoc {
  _id: string; // job_<ulid>
  kind: 'retry';
  status: JobStatus;
  total: number;
  /** Deliveries handled so far, retried or not; `errors` of them could not be retried. */
  done: number;
  errors: number;
  /** The subscriber that started it; null for the admin's. */
  owner_id: string | null;
  filter: Record<string, unknown>;
  /** Why the job failed, for the logs and the curious; not part of the API's view. */
  error: string | null;
  created_at: Date;
  /** The runner's heartbeat: a running job not updated for a minute was interrupted. */
  updated_at: Date;
  finished_at: Date | null;
}

/** One endpoint's attempts in a stats bucket (core/stats.ts). Absent counters are 0. */
export interface StatsEntry {
  /** Succeeded and failed attempts, and their summed duration in ms. */
  s?: number;
  f?: number;
  ms?: number;
  /** The endpoint's owner, when it has one: a subscriber's stats are the sum of its entries. */
  o?: string;
  /** The last error of a failed attempt in the bucket. */
  err?: string;
}

/** The attempts one dispatcher recorded in one bucket of one size (core/stats.ts). */
export interface StatsDoc {
  _id: string; // statsId(level, bucket start, writer)
  t: Date;
  s?: number;
  f?: number;
  ms?: number;
  e?: Record<string, StatsEntry>;
}

/** A dispatcher that writes stats: readers look up only the buckets it may have written. */
export interface StatsWriterDoc {
  _id: string; // wr_<ulid>, one per dispatcher process
  started_at: Date;
  /** No bucket of this writer starts after this (a lease it extends ahead of time). */
  last_at: Date;
  /** The retention sweep has removed this writer's buckets before this time. */
  swept_to?: Date | null;
}
