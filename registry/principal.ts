import type { FastifyRequest } from 'fastify';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ApiError } from '../core/errors.js';
import { sha256Hex } from '../core/ids.js';
import type { Mongo } from '../core/mongo.js';
import { bearerToken, sameHash } from './auth.js';

/** Who is calling: the admin, a publisher (made by the admin), or a subscriber. */
export type Principal =
  | { kind: 'admin' }
  | { kind: 'publisher'; id: string }
  | { kind: 'subscriber'; id: string };
export type Role = Principal['kind'];

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
  return async (req: FastifyRequest): Promise<void> => {
    await authenticate(req);
    await limit(req.principal.kind === 'admin' ? 'admin' : req.principal.id);
  };

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
      const doc = await mongo.col.principals.findOne({ key_hash: hash });
      const principal: Principal | null =
        doc && doc.revoked_at === null && sameHash(doc.key_hash, hash)
          ? { kind: doc.kind, id: doc._id }
          : null;
      hit = { principal, until: now + CACHE_MS };
      if (cache.size > 10_000) cache.clear();
      cache.set(hash, hit);
    }
    if (!hit.principal) throw new ApiError('unauthorized');
    req.principal = hit.principal;
  }
}

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
