import { type Static, Type } from '@sinclair/typebox';
import { ApiError } from '../core/errors.js';
import { TOPIC_PATTERN } from '../core/event.js';
import { LEVEL_NAMES } from '../core/stats.js';

/** Every request body and query, written once; handler types derive from these. */

export const TopicName = Type.String({ pattern: TOPIC_PATTERN, minLength: 1, maxLength: 128 });

export const CreateTopic = Type.Object(
  {
    name: TopicName,
    description: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export type CreateTopic = Static<typeof CreateTopic>;

const Url = Type.String({ minLength: 1, maxLength: 2048 });
const Topics = Type.Array(TopicName, { minItems: 1, maxItems: 256, uniqueItems: true });
const RateLimit = Type.Union([Type.Integer({ minimum: 1, maximum: 100_000 }), Type.Null()]);
/** Headers sent with every request to the endpoint (an API key of the receiver's, say). */
export const EndpointHeaders = Type.Record(
  Type.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$" }),
  Type.String({ maxLength: 1024, pattern: '^[^\\r\\n\\u0000]*$' }),
  { maxProperties: 20, additionalProperties: false },
);

export const CreateEndpoint = Type.Object(
  {
    url: Url,
    topics: Topics,
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    rate_limit: Type.Optional(RateLimit),
    headers: Type.Optional(EndpointHeaders),
  },
  { additionalProperties: false },
);
export type CreateEndpoint = Static<typeof CreateEndpoint>;

export const PatchEndpoint = Type.Object(
  {
    url: Type.Optional(Url),
    topics: Type.Optional(Topics),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    rate_limit: Type.Optional(RateLimit),
    headers: Type.Optional(EndpointHeaders),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchEndpoint = Static<typeof PatchEndpoint>;

export const VerifyEndpoint = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
export type VerifyEndpoint = Static<typeof VerifyEndpoint>;

const IdempotencyKey = Type.String({ minLength: 1, maxLength: 256 });

export const PublishMessage = Type.Object(
  {
    topic: TopicName,
    data: Type.Unknown(),
    idempotency_key: Type.Optional(IdempotencyKey),
  },
  { additionalProperties: false },
);
export type PublishMessage = Static<typeof PublishMessage>;

export const PublishBatch = Type.Object(
  {
    messages: Type.Array(
      Type.Object(
        { topic: TopicName, data: Type.Unknown(), idempotency_key: Type.Optional(IdempotencyKey) },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 1000 },
    ),
  },
  { additionalProperties: false },
);
export type PublishBatch = Static<typeof PublishBatch>;

export const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export type IdParam = Static<typeof IdParam>;

/** Query values arrive as strings; limits are parsed by `pageParams`. */
export const PageQuery = {
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
};

export const ListQuery = Type.Object(PageQuery, { additionalProperties: false });
export type ListQuery = Static<typeof ListQuery>;

/** An RFC 3339 time with a zone, such as `2025-03-14T09:26:53Z` or `…53.589+01:00`. */
export const Time = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}[Tt]\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?([Zz]|[+-]\\d{2}:\\d{2})$',
  maxLength: 40,
});

/** A time range: `from` included, `to` excluded; either end may be open. */
export interface TimeRange {
  from?: Date;
  to?: Date;
}

/** `from` and `to` of a query or body, checked: real times, in order. */
export function timeRange(
  q: { from?: string | undefined; to?: string | undefined },
  where = 'query',
): TimeRange | undefined {
  const out: TimeRange = {};
  for (const k of ['from', 'to'] as const) {
    const v = q[k];
    if (v === undefined) continue;
    const ms = Date.parse(v);
    if (Number.isNaN(ms))
      throw new ApiError('invalid_request', `${where}: ${k} is not a real time`);
    out[k] = new Date(ms);
  }
  if (out.from && out.to && out.from >= out.to)
    throw new ApiError('invalid_request', `${where}: from must be before to`);
  return out.from || out.to ? out : undefined;
}

/** The filter on `created_at` a time range makes. */
export function timeFilter(r: TimeRange | undefined): { created_at?: { $gte?: Date; $lt?: Date } } {
  if (!r) return {};
  const c: { $gte?: Date; $lt?: Date } = {};
  if (r.from) c.$gte = r.from;
  if (r.to) c.$lt = r.to;
  return { created_at: c };
}

const Id = Type.String({ minLength: 1, maxLength: 64 });
const DeliveryStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
]);

export const EndpointsQuery = Type.Object(
  {
    ...PageQuery,
    /** A case-insensitive part of the URL. */
    url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    status: Type.Optional(
      Type.Union([Type.Literal('pending'), Type.Literal('active'), Type.Literal('disabled')]),
    ),
    owner_id: Type.Optional(Id),
    topic: Type.Optional(TopicName),
  },
  { additionalProperties: false },
);
export type EndpointsQuery = Static<typeof EndpointsQuery>;

export const MessagesQuery = Type.Object(
  {
    ...PageQuery,
    topic: Type.Optional(TopicName),
    idempotency_key: Type.Optional(IdempotencyKey),
    from: Type.Optional(Time),
    to: Type.Optional(Time),
  },
  { additionalProperties: false },
);
export type MessagesQuery = Static<typeof MessagesQuery>;

export const DeliveriesQuery = Type.Object(
  {
    ...PageQuery,
    endpoint_id: Type.Optional(Type.String({ maxLength: 64 })),
    message_id: Type.Optional(Type.String({ maxLength: 64 })),
    status: Type.Optional(DeliveryStatus),
    topic: Type.Optional(TopicName),
    from: Type.Optional(Time),
    to: Type.Optional(Time),
  },
  { additionalProperties: false },
);
export type DeliveriesQuery = Static<typeof DeliveriesQuery>;

export const StatsQuery = Type.Object(
  {
    from: Type.Optional(Time),
    to: Type.Optional(Time),
    bucket: Type.Optional(Type.Union(LEVEL_NAMES.map((l) => Type.Literal(l)))),
    endpoint_id: Type.Optional(Id),
  },
  { additionalProperties: false },
);
export type StatsQuery = Static<typeof StatsQuery>;

/** `POST /v1/deliveries/retry`: every failed delivery that matches, retried by a job. */
export const BulkRetry = Type.Object(
  {
    status: Type.Literal('failed'),
    endpoint_id: Type.Optional(Id),
    topic: Type.Optional(TopicName),
    from: Type.Optional(Time),
    to: Type.Optional(Time),
  },
  { additionalProperties: false },
);
export type BulkRetry = Static<typeof BulkRetry>;

/** `POST /v1/endpoints/{id}/test`. */
export const TestEvent = Type.Object(
  { topic: Type.Optional(TopicName), data: Type.Optional(Type.Unknown()) },
  { additionalProperties: false },
);
export type TestEvent = Static<typeof TestEvent>;

/** `POST /v1/portal/sessions`: a portal link's code, exchanged for a session. */
export const PortalExchange = Type.Object(
  { code: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
export type PortalExchange = Static<typeof PortalExchange>;
