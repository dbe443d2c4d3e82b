/**
 * The body POSTed to endpoints: `{"type","timestamp","data"}`. Built in one place so that
 * the registry, the sidecar and a manual retry produce the same bytes for one message.
 */
export function eventBody(topic: string, createdAt: Date, data: unknown): string {
  return `{"type":${JSON.stringify(topic)},"timestamp":${JSON.stringify(createdAt.toISOString())},"data":${JSON.stringify(data ?? null)}}`;
}

export interface ParsedEvent {
  type: string;
  timestamp: string;
  data: unknown;
}

export function parseEventBody(body: Uint8Array | string): ParsedEvent {
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  const v = JSON.parse(text) as Partial<ParsedEvent>;
  if (typeof v.type !== 'string' || typeof v.timestamp !== 'string') {
    throw new Error('event body lacks type or timestamp');
  }
  return { type: v.type, timestamp: v.timestamp, data: v.data ?? null };
}

/** Topic names become NATS subject tokens: letters, digits, `_`, `-`, separated by dots. */
export const TOPIC_PATTERN = '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$';
const TOPIC_RE = new RegExp(TOPIC_PATTERN);
export function isTopicName(s: string): boolean {
  return s.length <= 128 && TOPIC_RE.test(s);
}

/** NATS headers hookline sets on its messages. */
export const H = {
  msgId: 'Nats-Msg-Id',
  recorded: 'Hookline-Recorded',
  delivery: 'Hookline-Delivery',
  endpoint: 'Hookline-Endpoint',
  message: 'Hookline-Message',
  generation: 'Hookline-Generation',
  /** On deliveries: what the outcome of a first attempt records without reading the delivery. */
  topic: 'Hookline-Topic',
  owner: 'Hookline-Owner',
  created: 'Hookline-Created',
  /** On deliveries back from the parking stream: the stored delivery is read, not assumed. */
  parked: 'Hookline-Parked',
  /** On events: the last subscription change the publisher had made; fan-out waits for it. */
  changesSeq: 'Hookline-Changes-Seq',
  /**
   * On system events: the subscriber whose object the event is about. Fan-out sends a
   * system event only to that subscriber's endpoints and to endpoints without an owner
   * (the admin's and publishers'); without the header, only to the latter.
   */
  audience: 'Hookline-Audience',
} as const;

/** Topics under this prefix are hookline's own: nobody else creates or publishes them. */
export const SYSTEM_PREFIX = 'hookline.';
export function isSystemTopic(name: string): boolean {
  return name.startsWith(SYSTEM_PREFIX);
}

/**
 * Operational events hookline publishes itself; subscribe to them like any topic. Each is
 * about one owner's object and reaches only that owner (see H.audience).
 */
export const SYSTEM_TOPICS = {
  endpointDisabled: {
    name: 'hookline.endpoint.disabled',
    description: 'hookline disabled an endpoint (410 Gone, or failing for HOOKLINE_DISABLE_AFTER)',
  },
} as const;
