import { type Static, Type } from '@sinclair/typebox';
import { TOPIC_PATTERN } from '../core/event.js';

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

export const MessagesQuery = Type.Object(
  { ...PageQuery, topic: Type.Optional(TopicName) },
  { additionalProperties: false },
);
export type MessagesQuery = Static<typeof MessagesQuery>;

export const DeliveriesQuery = Type.Object(
  {
    ...PageQuery,
    endpoint_id: Type.Optional(Type.String({ maxLength: 64 })),
    message_id: Type.Optional(Type.String({ maxLength: 64 })),
    status: Type.Optional(
      Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
    ),
  },
  { additionalProperties: false },
);
export type DeliveriesQuery = Static<typeof DeliveriesQuery>;
