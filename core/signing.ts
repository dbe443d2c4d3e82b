import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Standard Webhooks v1: HMAC-SHA256 over `id.timestamp.body`, keyed by the secret's bytes. */
const PREFIX = 'whsec_';

export function generateSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

export function secretKey(secret: string): Buffer {
  const raw = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret;
  const key = Buffer.from(raw, 'base64');
  if (key.length === 0) throw new Error('webhook secret is empty');
  return key;
}

export function signOne(key: Buffer, id: string, timestamp: number, body: string | Buffer): string {
  const mac = createHmac('sha256', key);
  mac.update(`${id}.${timestamp}.`);
  mac.update(body);
  return `v1,${mac.digest('base64')}`;
}

/** The `webhook-signature` header: one `v1,<sig>` per live secret, space separated. */
export function signatureHeader(
  keys: readonly Buffer[],
  id: string,
  timestamp: number,
  body: string | Buffer,
): string {
  return keys.map((k) => signOne(k, id, timestamp, body)).join(' ');
}

export class SignatureError extends Error {
  override name = 'SignatureError';
}

/**
 * Verifies a request the way a receiver should: the timestamp within `toleranceSec`
 * of now, and at least one `v1` signature matching, compared in constant time.
 * Used by hookline's own receivers (demo, tests, bench) and documented for users.
 */
export function verifySignature(
  secret: string,
  headers: {
    id?: string | undefined;
    timestamp?: string | undefined;
    signature?: string | undefined;
  },
  body: string | Buffer,
  options: { toleranceSec?: number; nowSec?: number } = {},
): void {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) throw new SignatureError('missing webhook headers');
  if (!/^\d+$/.test(timestamp)) throw new SignatureError('invalid webhook-timestamp');
  const ts = Number(timestamp);
  const now = options.nowSec ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSec ?? 300;
  if (Math.abs(now - ts) > tolerance)
    throw new SignatureError('webhook-timestamp out of tolerance');
  const expected = Buffer.from(signOne(secretKey(secret), id, ts, body).slice(3), 'base64');
  for (const part of signature.split(' ')) {
    const comma = part.indexOf(',');
    if (comma < 0 || part.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(part.slice(comma + 1), 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return;
  }
  throw new SignatureError('no matching signature');
}
