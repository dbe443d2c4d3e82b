import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { isSystemTopic, SYSTEM_PREFIX, SYSTEM_TOPICS } from '../../core/event.js';
import { ApiError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { isDuplicateKey } from '../../core/mongo.js';
import type { RegistryDeps } from '../context.js';
import { listPage, pageParams } from '../pagination.js';
import { CreateTopic, ListQuery, TopicName } from '../schemas.js';
import { topicView } from '../views.js';
import { allow } from '../principal.js';
import { Type } from '@sinclair/typebox';

export function topicRoutes(deps: RegistryDeps) {
  const { topics } = deps.mongo.col;
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.post('/topics', { schema: { body: CreateTopic } }, async (req, reply) => {
      allow(req, 'admin', 'publisher');
      if (isSystemTopic(req.body.name))
        throw new ApiError(
          'invalid_request',
          `body: name: topics starting with "${SYSTEM_PREFIX}" are reserved for hookline's own events`,
        );
      const doc = {
        _id: newId('top'),
        name: req.body.name,
        description: req.body.description ?? '',
        created_at: new Date(),
      };
      try {
        await topics.insertOne(doc);
      } catch (err) {
        if (isDuplicateKey(err))
          throw new ApiError('topic_exists', `Topic "${doc.name}" exists already.`);
        throw err;
      }
      return reply.status(201).send(topicView(doc));
    });

    app.get('/topics', { schema: { querystring: ListQuery } }, async (req) =>
      listPage(topics, {}, pageParams(req.query), topicView),
    );

    app.get(
      '/topics/:name',
      { schema: { params: Type.Object({ name: TopicName }) } },
      async (req) => {
        const doc = await topics.findOne({ name: req.params.name });
        if (!doc) throw new ApiError('topic_not_found', `Unknown topic "${req.params.name}".`);
        return topicView(doc);
      },
    );
  };
}

/**
 * Topic names this process has seen in the catalogue. Topics are never deleted, so a name
 * found once stays valid: publishing then costs no database read for its topic (at 100
 * messages a second, that read was a quarter of the statements each message cost). Names
 * not found are always looked up again, so a topic created by another registry is
 * accepted at once. Bounded: forgotten all at once past MAX_KNOWN_TOPICS.
 */
const knownTopics = new WeakMap<object, Set<string>>();
const MAX_KNOWN_TOPICS = 10_000;

/** The names in `names` that are not in the catalogue. */
export async function unknownTopics(
  deps: Pick<RegistryDeps, 'mongo'>,
  names: readonly string[],
): Promise<Set<string>> {
  let known = knownTopics.get(deps.mongo.col.topics);
  if (!known) {
    known = new Set();
    knownTopics.set(deps.mongo.col.topics, known);
  }
  const unsure = [...new Set(names)].filter((n) => !known.has(n));
  if (unsure.length === 0) return new Set();
  const found = await deps.mongo.col.topics
    .find({ name: { $in: unsure } }, { projection: { name: 1 } })
    .toArray();
  if (known.size + found.length > MAX_KNOWN_TOPICS) known.clear();
  for (const t of found) known.add(t.name);
  return new Set(unsure.filter((n) => !known.has(n)));
}

/** hookline's own topics are published by hookline alone (their events are owner-scoped). */
export function refuseSystemTopic(topic: string, where = 'topic'): void {
  if (isSystemTopic(topic))
    throw new ApiError(
      'forbidden',
      `${where}: "${topic}" is one of hookline's own topics; only hookline publishes to it.`,
    );
}

/** Throws topic_not_found naming every topic in `names` that is not in the catalogue. */
export async function requireTopics(deps: RegistryDeps, names: readonly string[]): Promise<void> {
  const missing = [...(await unknownTopics(deps, names))];
  if (missing.length > 0) {
    throw new ApiError(
      'topic_not_found',
      `Unknown topic${missing.length > 1 ? 's' : ''}: ${missing.map((m) => `"${m}"`).join(', ')}. Create it with POST /v1/topics first.`,
    );
  }
}

/** The topics hookline publishes itself, in the catalogue so that anyone can subscribe. */
export async function ensureSystemTopics(mongo: RegistryDeps['mongo']): Promise<void> {
  for (const t of Object.values(SYSTEM_TOPICS)) {
    await mongo.col.topics.updateOne(
      { name: t.name },
      {
        $setOnInsert: {
          _id: newId('top'),
          name: t.name,
          description: t.description,
          created_at: new Date(0),
        },
      },
      { upsert: true },
    );
  }
}
