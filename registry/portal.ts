// The subscriber portal's access: single-use link codes, the sessions they are exchanged
// for, and their sweep.
import type { AddressInfo } from 'node:net';
import { ApiError } from '../core/errors.js';
import { randomToken, sha256Hex } from '../core/ids.js';
import type { Mongo } from '../core/mongo.js';
import type { RegistryDeps } from './context.js';
import { PORTAL_TOKEN_PREFIX } from './principal.js';

/**
 * The subscriber portal's access: links and sessions (docs/security.md, "Portal
 * sessions"). An admin or a publisher asks for a link to a subscriber's portal; the link
 * carries a single-use code in its fragment (never sent to a server, so never in a log or
 * a Referer); the portal exchanges the code for a session token that acts as the
 * subscriber until it expires or is ended. Codes and tokens are 32 random bytes; only
 * their SHA-256 is stored, as the document's `_id`, so both are found by id.
 */
export function createPortal(deps: Pick<RegistryDeps, 'mongo' | 'config'>) {
  const { portalCodes, portalSessions, principals } = deps.mongo.col;
  const refused = () => new ApiError('portal_code_invalid');

  async function activeSubscriber(id: string) {
    const sub = await principals.findOne({ _id: id, kind: 'subscriber' });
    return sub && sub.revoked_at === null ? sub : null;
  }

  return {
    /** A link to the subscriber's portal, on `baseUrl`, with a fresh code. */
    async createLink(subscriberId: string, baseUrl: string) {
      if (!(await activeSubscriber(subscriberId)))
        throw new ApiError('not_found', `Unknown subscriber "${subscriberId}".`);
      const code = randomToken('hl_pc');
      const now = new Date();
      const expiresAt = new Date(now.getTime() + deps.config.portalCodeTtl);
      await portalCodes.insertOne({
        _id: sha256Hex(code),
        subscriber_id: subscriberId,
        expires_at: expiresAt,
        created_at: now,
      });
      return { url: `${baseUrl}/portal#code=${code}`, expires_at: expiresAt.toISOString() };
    },

    /**
     * Exchanges a code for a session, once. The code is consumed by deleting it: of two
     * exchanges at once only one deletes it (deletedCount 1), on FerretDB too, whose
     * findOneAndUpdate/Delete read and write in two steps and could let both win.
     */
    async exchange(code: string) {
      const hash = sha256Hex(code);
      const doc = await portalCodes.findOne({ _id: hash });
      if (!doc) throw refused();
      const res = await portalCodes.deleteOne({ _id: hash });
      if (res.deletedCount !== 1) throw refused();
      const now = new Date();
      if (doc.expires_at.getTime() <= now.getTime()) throw refused();
      const sub = await activeSubscriber(doc.subscriber_id);
      if (!sub) throw refused();
      const token = randomToken(PORTAL_TOKEN_PREFIX);
      const expiresAt = new Date(now.getTime() + deps.config.portalSessionTtl);
      await portalSessions.insertOne({
        _id: sha256Hex(token),
        subscriber_id: sub._id,
        expires_at: expiresAt,
        created_at: now,
      });
      return {
        token,
        expires_at: expiresAt.toISOString(),
        subscriber: { id: sub._id, name: sub.name },
      };
    },

    /** Ends one session. */
    async end(tokenHash: string): Promise<void> {
      await portalSessions.deleteOne({ _id: tokenHash });
    },

    /** Ends every session and unused link of a subscriber (it was deleted). */
    async endAllOf(subscriberId: string): Promise<void> {
      await Promise.all([
        portalSessions.deleteMany({ subscriber_id: subscriberId }),
        portalCodes.deleteMany({ subscriber_id: subscriberId }),
      ]);
    },
  };
}
export type Portal = ReturnType<typeof createPortal>;

/**
 * Removes expired codes and sessions (they are refused once expired, swept or not).
 * FerretDB has no TTL indexes, so the registry runs this with its other sweeps.
 */
export async function sweepPortal(mongo: Pick<Mongo, 'col'>): Promise<number> {
  const now = new Date();
  const [codes, sessions] = await Promise.all([
    mongo.col.portalCodes.deleteMany({ expires_at: { $lt: now } }),
    mongo.col.portalSessions.deleteMany({ expires_at: { $lt: now } }),
  ]);
  return codes.deletedCount + sessions.deletedCount;
}

/**
 * Where links point: HOOKLINE_PUBLIC_URL, or else the address the registry listens on
 * (an unspecified address, 0.0.0.0 or ::, becomes loopback: set HOOKLINE_PUBLIC_URL when
 * people reach the registry by another name).
 */
export function publicBaseUrl(configured: string, address: AddressInfo | string | null): string {
  if (configured !== '') return configured;
  if (!address || typeof address === 'string') return 'http://127.0.0.1';
  const host =
    address.address === '0.0.0.0'
      ? '127.0.0.1'
      : address.address === '::'
        ? '[::1]'
        : address.family === 'IPv6'
          ? `[${address.address}]`
          : address.address;
  return `http://${host}:${address.port}`;
}
