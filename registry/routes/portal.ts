// Routes: GET /v1/me, portal links, portal sessions.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../core/errors.js';
import type { RegistryDeps } from '../context.js';
import { type Portal, publicBaseUrl } from '../portal.js';
import { allow, type Authenticator } from '../principal.js';
import { IdParam, PortalExchange } from '../schemas.js';

/** `GET /v1/me`, portal links, and ending a portal session: routes that want a token. */
export function portalRoutes(deps: RegistryDeps, portal: Portal, auth: Authenticator) {
  const { principals } = deps.mongo.col;
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    /** Who the token is: what the web UI shows after sign-in. */
    app.get('/me', async (req) => {
      const p = req.principal;
      if (p.kind === 'admin')
        return { kind: 'admin', id: 'admin', name: 'admin', expires_at: null, portal: false };
      const doc = await principals.findOne({ _id: p.id });
      return {
        kind: p.kind,
        id: p.id,
        name: doc?.name ?? '',
        expires_at: p.kind === 'subscriber' && p.portal ? p.portal.expiresAt.toISOString() : null,
        portal: p.kind === 'subscriber' && p.portal !== undefined,
      };
    });

    app.post(
      '/subscribers/:id/portal-links',
      { schema: { params: IdParam } },
      async (req, reply) => {
        allow(req, 'admin', 'publisher');
        const base = publicBaseUrl(deps.config.publicUrl, root.server.address());
        return reply.status(201).send(await portal.createLink(req.params.id, base));
      },
    );

    app.delete('/portal/sessions/current', async (req, reply) => {
      const p = req.principal;
      if (p.kind !== 'subscriber' || !p.portal)
        throw new ApiError(
          'forbidden',
          'Only a portal session can end itself; this token is not one (revoke keys with DELETE /v1/subscribers/{id}).',
        );
      await portal.end(p.portal.tokenHash);
      auth.forget(p.portal.tokenHash);
      return reply.status(204).send();
    });
  };
}

/** `POST /v1/portal/sessions`: the one /v1 route without a token (the code is the credential). */
export function portalExchangeRoutes(portal: Portal) {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();
    app.post('/portal/sessions', { schema: { body: PortalExchange } }, async (req, reply) =>
      reply.status(201).send(await portal.exchange(req.body.code)),
    );
  };
}
