import type { FastifyRequest } from 'fastify';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ApiError } from '../core/errors.js';
import { sha256Hex } from '../core/ids.js';
import type { Mongo } from '../core/mongo.js';
import { bearerToken, sameHash } from './auth.js';

/**
 * Who is calling: the admin, a publisher (made by the admin), or a subscriber — with its
 * API key, or through a portal session (registry/portal.ts), which acts as the subscriber
 * in every way and only adds when it ends.
 */
export type Principal =
  | { kind: 'admin' }
  | { kind: 'publisher'; id: string }
  | { kind: 'subscriber'; id: string; portal?: PortalSession };
export type Role = Principal['kind'];

export interface PortalSession {
  /** The SHA-256 of the session's token: its `_id` in `portal_sessions`. */
  tokenHash: string;
  expiresAt: Date;
}

/** Portal session tokens start with this, so they are looked up where they are stored. */
export const PORTAL_TOKEN_PREFIX = 'hl_ps';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

/** How long a looked-up key is trusted before it is looked up again (revocation delay). */
const CACHE_MS = 5_000;

/**
 * Resolves the bearer token of every /v1 request: the admin token by its hash, other
 * tokens by the hash stored for them. Only hashes are kept and compared.
 */
export function createAuthenticator(mongo: Mongo, adminHash: string, requestsPerSecond: number) {
  const cache = new Map<string, { principal: Principal | null; until: number }>();
  // Per token and registry process: a burst of one second's worth, then 429.
  const limiter = new RateLimiterMemory({ points: requestsPerSecond, duration: 1 });
  const limit = async (key: string) => {
    try {
      await limiter.consume(key, 1);
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      const seconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
      throw new ApiError(
        'rate_limited',
        `More than ${requestsPerSecond} requests per second with this token; retry in ${seconds} s.`,
        {
          retry_after: seconds,
        },
      );
    }
  };
  const hook = async (req: FastifyRequest): Promise<void> => {
    await authenticate(req);
    await limit(req.principal.kind === 'admin' ? 'admin' : req.principal.id);
  };

  /** A session or subscriber as it is stored now; null when it may not act. */
  async function lookUp(token: string, hash: string): Promise<Principal | null> {
    if (token.startsWith(`${PORTAL_TOKEN_PREFIX}_`)) {
      const s = await mongo.col.portalSessions.findOne({ _id: hash });
      // An expired one is refused below, with a message that says so.
      if (!s) return null;
      // Revoking the subscriber ends its sessions (they are deleted too, see portal.ts).
      const sub = await mongo.col.principals.findOne({ _id: s.subscriber_id });
      if (sub?.kind !== 'subscriber' || sub.revoked_at !== null) return null;
      return {
        kind: 'subscriber',
        id: sub._id,
        portal: { tokenHash: hash, expiresAt: s.expires_at },
      };
    }
    const doc = await mongo.col.principals.findOne({ key_hash: hash });
    return doc && doc.revoked_at === null && sameHash(doc.key_hash, hash)
      ? { kind: doc.kind, id: doc._id }
      : null;
  }

  async function authenticate(req: FastifyRequest): Promise<void> {
    const token = bearerToken(req);
    if (!token)
      throw new ApiError('unauthorized', 'Send a bearer token: Authorization: Bearer <token>.');
    const hash = sha256Hex(token);
    if (sameHash(hash, adminHash)) {
      req.principal = { kind: 'admin' };
      return;
    }
    const now = Date.now();
    let hit = cache.get(hash);
    if (!hit || hit.until < now) {
      hit = { principal: await lookUp(token, hash), until: now + CACHE_MS };
      if (cache.size > 10_000) cache.clear();
      cache.set(hash, hit);
    }
    const p = hit.principal;
    if (!p) throw new ApiError('unauthorized');
    // A session ends on time, whatever the cache says.
    if (p.kind === 'subscriber' && p.portal && p.portal.expiresAt.getTime() <= now)
      throw new ApiError(
        'unauthorized',
        'This portal session has expired; open a new portal link.',
      );
    req.principal = p;
  }

  return {
    hook,
    /** Forgets a token at once (a session that ended), rather than after the cache's seconds. */
    forget(tokenHash: string): void {
      cache.delete(tokenHash);
    },
  };
}
export type Authenticator = ReturnType<typeof createAuthenticator>;

/** Throws 403 unless the caller has one of the roles. */
export function allow(req: FastifyRequest, ...roles: Role[]): void {
  if (!roles.includes(req.principal.kind)) {
    throw new ApiError(
      'forbidden',
      `A ${req.principal.kind} token may not ${req.method} ${req.routeOptions.url ?? req.url}.`,
    );
  }
}

/** For a subscriber, the owner every object it touches must have; null for the others. */
export function ownerScope(req: FastifyRequest): string | null {
  return req.principal.kind === 'subscriber' ? req.principal.id : null;
}

/** A subscriber sees only its own objects: another's answer 404, as if they did not exist. */
export function visible(req: FastifyRequest, ownerId: string | null | undefined): boolean {
  const scope = ownerScope(req);
  return scope === null || ownerId === scope;
}
