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

/**
 * How a delivery ended, in its generation: written once, by an insert, never updated.
 * The delivery document itself is written at fan-out and changed only while attempts are
 * being rescheduled, so the common path (fan-out, one attempt, 2xx) stores three inserts
 * and no update. A snapshot of the delivery as it ended, so lists by status read it alone.
 */
export interface OutcomeDoc extends Omit<DeliveryDoc, '_id' | 'status'> {
  _id: string; // outcomeId(delivery_id, generation)
  delivery_id: string;
  status: 'succeeded' | 'failed';
  /**
   * The attempt that ended the delivery, stored here rather than in `attempts` (one insert
   * less on the common path); a manual retry moves it to `attempts`.
   */
  attempt?: AttemptDoc | null;
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
