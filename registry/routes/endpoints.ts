import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Filter } from 'mongodb';
import { withDefaults } from '../../core/deliveries.js';
import { ApiError } from '../../core/errors.js';
import { newId, sha256Hex } from '../../core/ids.js';
import type { EndpointDoc, SecretEntry } from '../../core/model.js';
import { generateSecret } from '../../core/signing.js';
import { sameHash } from '../auth.js';
import type { RegistryDeps } from '../context.js';
import { listPage, pageParams } from '../pagination.js';
import {
  CreateEndpoint,
  EndpointsQuery,
  IdParam,
  PatchEndpoint,
  TestEvent,
  VerifyEndpoint,
} from '../schemas.js';
import { sendTestEvent } from '../test-event.js';
import { checkHeaders, checkUrl, verifyEndpoint } from '../verification.js';
import { deliveryView, endpointView, messageView } from '../views.js';
import { allow, ownerScope, visible } from '../principal.js';
import { requireTopics } from './topics.js';

const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

export function endpointRoutes(deps: RegistryDeps) {
  const { endpoints } = deps.mongo.col;
  const announce = (c: Parameters<RegistryDeps['announcer']['announce']>[0]) =>
    deps.announcer.announce(c);

  /** The endpoint, if the caller may see it: a subscriber sees only its own. */
  async function load(req: FastifyRequest, id: string): Promise<EndpointDoc> {
    const doc = await endpoints.findOne({ _id: id });
    if (!doc || !visible(req, doc.owner_id))
      throw new ApiError('endpoint_not_found', `Unknown endpoint "${id}".`);
    return doc;
  }

  /** Changing an endpoint is for the admin and its owner; publishers only read. */
  function loadForChange(req: FastifyRequest, id: string): Promise<EndpointDoc> {
    allow(req, 'admin', 'subscriber');
    return load(req, id);
  }

  /** Writes the changed fields, announces the change, returns the stored document. */
  async function update(id: string, set: Partial<EndpointDoc>): Promise<EndpointDoc> {
    const doc = await endpoints.findOneAndUpdate(
      { _id: id },
      { $set: { ...set, updated_at: new Date() } },
      { returnDocument: 'after' },
    );
    if (!doc) throw new ApiError('endpoint_not_found', `Unknown endpoint "${id}".`);
    await announce({ kind: 'endpoint', op: 'upsert', id });
    return doc;
  }

  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.post('/endpoints', { schema: { body: CreateEndpoint } }, async (req, reply) => {
      allow(req, 'admin', 'subscriber');
      const body = req.body;
      const url = checkUrl(deps, body.url);
      const headers = checkHeaders(body.headers);
      await requireTopics(deps, body.topics);
      const secret = generateSecret();
      let status: EndpointDoc['status'] = 'active';
      let tokenHash: string | null = null;
      if (deps.config.verifyEndpoints) {
        const outcome = await verifyEndpoint(deps, url.href, secret, headers);
        status = outcome.status;
        if (outcome.status === 'pending') tokenHash = sha256Hex(outcome.token);
      }
      const now = new Date();
      const doc: EndpointDoc = {
        _id: newId('ep'),
        owner_id: ownerScope(req),
        url: url.href,
        topics: body.topics,
        description: body.description ?? '',
        status,
        secrets: [{ secret: deps.box.seal(secret), expires_at: null }],
        rate_limit: body.rate_limit ?? null,
        headers,
        verification_token_hash: tokenHash,
        disabled_reason: null,
        failing_since: null,
        created_at: now,
        updated_at: now,
      };
      await endpoints.insertOne(doc);
      await announce({ kind: 'endpoint', op: 'upsert', id: doc._id });
      return reply.status(201).send(endpointView(doc, secret));
    });

    app.get('/endpoints', { schema: { querystring: EndpointsQuery } }, async (req) => {
      const q = req.query;
      const scope = ownerScope(req);
      if (scope !== null && q.owner_id !== undefined)
        throw new ApiError(
          'forbidden',
          'owner_id is for the admin and publishers: a subscriber lists only its own endpoints.',
        );
      const filter: Filter<EndpointDoc> = {};
      const owner = scope ?? q.owner_id;
      if (owner !== undefined) filter.owner_id = owner;
      if (q.status !== undefined) filter.status = q.status;
      if (q.topic !== undefined) filter.topics = q.topic;
      if (q.url !== undefined) filter.url = { $regex: escapeRegex(q.url), $options: 'i' };
      return listPage(endpoints, filter, pageParams(q), (d) => endpointView(d));
    });

    app.get('/endpoints/:id', { schema: { params: IdParam } }, async (req) =>
      endpointView(await load(req, req.params.id)),
    );

    app.patch(
      '/endpoints/:id',
      { schema: { params: IdParam, body: PatchEndpoint } },
      async (req) => {
        const current = await loadForChange(req, req.params.id);
        const body = req.body;
        const set: Partial<EndpointDoc> = {};
        if (body.topics !== undefined) {
          await requireTopics(deps, body.topics);
          set.topics = body.topics;
        }
        if (body.description !== undefined) set.description = body.description;
        if (body.rate_limit !== undefined) set.rate_limit = body.rate_limit;
        if (body.headers !== undefined) set.headers = checkHeaders(body.headers);
        if (body.url !== undefined) {
          const url = checkUrl(deps, body.url);
          if (url.href !== current.url) {
            set.url = url.href;
            // A new URL is a new receiver: it proves itself like a new endpoint does.
            if (deps.config.verifyEndpoints && current.status !== 'disabled') {
              const outcome = await verifyEndpoint(
                deps,
                url.href,
                deps.box.open(liveSecrets(current)[0] ?? ''),
                set.headers ?? current.headers ?? {},
              );
              set.status = outcome.status;
              set.verification_token_hash =
                outcome.status === 'pending' ? sha256Hex(outcome.token) : null;
            }
          }
        }
        return endpointView(await update(current._id, set));
      },
    );

    app.delete('/endpoints/:id', { schema: { params: IdParam } }, async (req, reply) => {
      await loadForChange(req, req.params.id);
      const res = await endpoints.deleteOne({ _id: req.params.id });
      if (res.deletedCount === 0)
        throw new ApiError('endpoint_not_found', `Unknown endpoint "${req.params.id}".`);
      await announce({ kind: 'endpoint', op: 'delete', id: req.params.id });
      return reply.status(204).send();
    });

    app.post(
      '/endpoints/:id/verify',
      { schema: { params: IdParam, body: VerifyEndpoint } },
      async (req) => {
        const current = await loadForChange(req, req.params.id);
        if (current.status === 'active') return endpointView(current);
        if (current.status === 'disabled' || !current.verification_token_hash) {
          throw new ApiError('conflict', 'This endpoint is not waiting for verification.');
        }
        if (!sameHash(sha256Hex(req.body.token), current.verification_token_hash)) {
          throw new ApiError('invalid_token');
        }
        return endpointView(
          await update(current._id, { status: 'active', verification_token_hash: null }),
        );
      },
    );

    app.post('/endpoints/:id/rotate-secret', { schema: { params: IdParam } }, async (req) => {
      const current = await loadForChange(req, req.params.id);
      const secret = generateSecret();
      const now = Date.now();
      const kept: SecretEntry[] = current.secrets
        .filter((s) => s.expires_at === null || s.expires_at.getTime() > now)
        .map((s) => ({
          secret: s.secret,
          expires_at: s.expires_at ?? new Date(now + ROTATION_OVERLAP_MS),
        }));
      const doc = await update(current._id, {
        secrets: [{ secret: deps.box.seal(secret), expires_at: null }, ...kept],
      });
      return endpointView(doc, secret);
    });

    /** The signing secrets, for the endpoint's owner and the admin (docs/security.md). */
    app.get('/endpoints/:id/secret', { schema: { params: IdParam } }, async (req, reply) => {
      const current = await loadForChange(req, req.params.id);
      const now = Date.now();
      const live = current.secrets.filter(
        (s) => s.expires_at === null || s.expires_at.getTime() > now,
      );
      const signing = live.find((s) => s.expires_at === null) ?? live[0];
      if (!signing) throw new ApiError('conflict', 'This endpoint has no live secret; rotate it.');
      void reply.header('cache-control', 'no-store');
      return {
        secret: deps.box.open(signing.secret),
        previous: live
          .filter((s) => s !== signing)
          .map((s) => ({
            secret: deps.box.open(s.secret),
            expires_at: s.expires_at ? s.expires_at.toISOString() : null,
          })),
      };
    });

    /** One event to this endpoint alone (registry/test-event.ts): for its owner and the admin. */
    app.post(
      '/endpoints/:id/test',
      { schema: { params: IdParam, body: TestEvent }, preValidation: emptyBodyAsObject },
      async (req, reply) => {
        const current = await loadForChange(req, req.params.id);
        const topic = req.body.topic ?? current.topics[0];
        if (topic === undefined || !current.topics.includes(topic))
          throw new ApiError(
            'invalid_request',
            `body: topic: this endpoint does not subscribe to "${topic}"; it subscribes to ${current.topics.map((t) => `"${t}"`).join(', ')}`,
          );
        if (current.status !== 'active')
          throw new ApiError(
            'conflict',
            current.status === 'pending'
              ? 'This endpoint has not been verified yet: send its token to /verify first.'
              : 'This endpoint is disabled; enable it first.',
          );
        const data = 'data' in req.body ? req.body.data : { test: true };
        const { message, delivery } = await sendTestEvent(deps, current, topic, data);
        return reply
          .status(202)
          .send({ message: messageView(message), delivery: deliveryView(withDefaults(delivery)) });
      },
    );

    app.post('/endpoints/:id/enable', { schema: { params: IdParam } }, async (req) => {
      const current = await loadForChange(req, req.params.id);
      if (current.status === 'pending') {
        throw new ApiError(
          'conflict',
          'This endpoint has not been verified yet: send its token to /verify.',
        );
      }
      // An endpoint disabled before it was verified goes back to waiting for its token.
      const status = current.verification_token_hash ? 'pending' : 'active';
      return endpointView(
        await update(current._id, { status, disabled_reason: null, failing_since: null }),
      );
    });

    app.post('/endpoints/:id/disable', { schema: { params: IdParam } }, async (req) => {
      const current = await loadForChange(req, req.params.id);
      return endpointView(
        await update(current._id, { status: 'disabled', disabled_reason: 'disabled by request' }),
      );
    });
  };
}

/** A body-less request to a route whose body is all optional fields: an empty object. */
async function emptyBodyAsObject(req: FastifyRequest): Promise<void> {
  if (req.body === undefined) req.body = {};
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function liveSecrets(e: Pick<EndpointDoc, 'secrets'>, now = Date.now()): string[] {
  return e.secrets
    .filter((s) => s.expires_at === null || s.expires_at.getTime() > now)
    .map((s) => s.secret);
}
