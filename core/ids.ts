import { createHash, randomBytes, randomFillSync } from 'node:crypto';

// Crockford's base32: ids sort by time as plain strings, which is what cursor
// pagination ("newest first", `_id < cursor`) relies on.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function encodeTime(ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

export function encodeBytes(bytes: Uint8Array, chars: number): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += ALPHABET[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

// Random bytes drawn from the system 4 KiB at a time: one call per 409 ids instead of one
// per id (a busy dispatcher makes an id per attempt).
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
function random10(): Uint8Array {
  if (poolAt + 10 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  poolAt += 10;
  return pool.subarray(poolAt - 10, poolAt);
}

/** A ULID: 48 bits of milliseconds then 80 random bits, 26 characters. */
export function ulid(now = Date.now()): string {
  return encodeTime(now) + encodeBytes(random10(), 16);
}

export function newId(
  prefix: 'msg' | 'ep' | 'top' | 'req' | 'att' | 'tok' | 'sub' | 'pub' | 'job' | 'wr',
): string {
  return `${prefix}_${ulid()}`;
}

/**
 * A delivery's id is derived from its message and endpoint, so a fan-out that runs
 * twice (a redelivered event) produces the same ids and stores nothing twice. The
 * message's ULID leads, so deliveries sort by message time.
 */
export function deliveryId(messageId: string, endpointId: string): string {
  const msgPart = messageId.startsWith('msg_') ? messageId.slice(4) : messageId;
  const digest = createHash('sha256').update(messageId).update('\0').update(endpointId).digest();
  return `dlv_${msgPart}${encodeBytes(digest, 10)}`;
}

/** A random token with a readable prefix, 32 random bytes in base64url. */
export function randomToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
