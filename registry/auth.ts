import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { randomToken, sha256Hex } from '../core/ids.js';
import { isDuplicateKey, type Mongo } from '../core/mongo.js';

const ADMIN_KEY = 'admin_token_sha256';

/**
 * The admin token's hash. A configured token wins; otherwise the first registry to start
 * generates one, stores only its hash, and returns the token so the caller prints it once.
 */
export async function bootstrapAdminToken(
  mongo: Mongo,
  configured: string,
): Promise<{ hash: string; generated: string | null }> {
  if (configured !== '') return { hash: sha256Hex(configured), generated: null };
  const existing = await mongo.col.settings.findOne({ _id: ADMIN_KEY });
  if (existing) return { hash: existing.value, generated: null };
  const token = randomToken('hl_admin');
  try {
    await mongo.col.settings.insertOne({
      _id: ADMIN_KEY,
      value: sha256Hex(token),
      created_at: new Date(),
    });
    return { hash: sha256Hex(token), generated: token };
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const winner = await mongo.col.settings.findOne({ _id: ADMIN_KEY });
    if (!winner) throw err;
    return { hash: winner.value, generated: null };
  }
}

export function bearerToken(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1] ?? null;
}

/** Compares hashes, so the comparison takes the same time whatever the token's length. */
export function sameHash(aHex: string, bHex: string): boolean {
  const a = Buffer.from(aHex, 'hex');
  const b = Buffer.from(bHex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
