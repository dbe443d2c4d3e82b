import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../core/errors.js';
import { newId, randomToken, sha256Hex } from '../../core/ids.js';
import type { PrincipalDoc, PrincipalKind } from '../../core/model.js';
import type { RegistryDeps } from '../context.js';
import { listPage, pageParams } from '../pagination.js';
import type { Portal } from '../portal.js';
import { allow } from '../principal.js';
import { IdParam, ListQuery } from '../schemas.js';

const NameBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

function view(p: PrincipalDoc) {
  return {
    id: p._id,
    name: p.name,
    created_at: p.created_at.toISOString(),
    revoked_at: p.revoked_at ? p.revoked_at.toISOString() : null,
  };
}

/**
 * Publishers (tokens the admin makes for services that publish) and subscribers (accounts
 * whose API key manages their own endpoints). A token or key is shown once, at creation;
 * only its SHA-256 is stored. Revoking takes effect within five seconds, and ends a
 * subscriber's portal sessions.
 */
export function principalRoutes(deps: RegistryDeps, portal: Portal) {
  const { principals } = deps.mongo.col;

  async function create(kind: PrincipalKind, name: string) {
    const token = randomToken(kind === 'publisher' ? 'hl_pub' : 'hl_sub');
    const doc: PrincipalDoc = {
      _id: newId(kind === 'publisher' ? 'pub' : 'sub'),
      kind,
      name,
      key_hash: sha256Hex(token),
      created_at: new Date(),
      revoked_at: null,
    };
    await principals.insertOne(doc);
    return { doc, token };
  }

  async function revoke(kind: PrincipalKind, id: string) {
    const res = await principals.updateOne(
      { _id: id, kind, revoked_at: null },
      { $set: { revoked_at: new Date() } },
    );
    if (res.matchedCount === 0) throw new ApiError('not_found', `No active ${kind} "${id}".`);
  }

  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.post('/publishers', { schema: { body: NameBody } }, async (req, reply) => {
      allow(req, 'admin');
      const { doc, token } = await create('publisher', req.body.name);
      return reply.status(201).send({ ...view(doc), token });
    });
    app.get('/publishers', { schema: { querystring: ListQuery } }, async (req) => {
      allow(req, 'admin');
      return listPage(principals, { kind: 'publisher' }, pageParams(req.query), view);
    });
    app.delete('/publishers/:id', { schema: { params: IdParam } }, async (req, reply) => {
      allow(req, 'admin');
      await revoke('publisher', req.params.id);
      return reply.status(204).send();
    });

    app.post('/subscribers', { schema: { body: NameBody } }, async (req, reply) => {
      allow(req, 'admin', 'publisher');
      const { doc, token } = await create('subscriber', req.body.name);
      return reply.status(201).send({ ...view(doc), api_key: token });
    });
    app.get('/subscribers', { schema: { querystring: ListQuery } }, async (req) => {
      allow(req, 'admin', 'publisher');
      return listPage(principals, { kind: 'subscriber' }, pageParams(req.query), view);
    });
    app.get('/subscribers/:id', { schema: { params: IdParam } }, async (req) => {
      const self = req.principal.kind === 'subscriber' && req.principal.id === req.params.id;
      if (!self) allow(req, 'admin', 'publisher');
      const doc = await principals.findOne({ _id: req.params.id, kind: 'subscriber' });
      if (!doc) throw new ApiError('not_found', `Unknown subscriber "${req.params.id}".`);
      return view(doc);
    });
    app.delete('/subscribers/:id', { schema: { params: IdParam } }, async (req, reply) => {
      allow(req, 'admin', 'publisher');
      await revoke('subscriber', req.params.id);
      // Its portal sessions end with it (and are refused meanwhile: see principal.ts).
      await portal.endAllOf(req.params.id);
      return reply.status(204).send();
    });
  };
}
