import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Endpoint secrets at rest: AES-256-GCM with a random 96-bit nonce per value, stored as
 * `enc:v1:<base64 of nonce ‖ tag ‖ ciphertext>`. A value without the prefix is read as it
 * is (secrets stored before encryption existed).
 */
const PREFIX = 'enc:v1:';

export interface SecretBox {
  seal(plain: string): string;
  open(stored: string): string;
}

export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new SecretBoxError('the encryption key must be 32 bytes');
  return {
    seal(plain) {
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return PREFIX + Buffer.concat([nonce, cipher.getAuthTag(), body]).toString('base64');
    },
    open(stored) {
      if (!stored.startsWith(PREFIX)) return stored;
      const raw = Buffer.from(stored.slice(PREFIX.length), 'base64');
      if (raw.length < 28) throw new SecretBoxError('a stored secret is damaged');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      try {
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString(
          'utf8',
        );
      } catch {
        throw new SecretBoxError(
          'a stored secret cannot be decrypted: is HOOKLINE_ENCRYPTION_KEY the key it was stored with?',
        );
      }
    },
  };
}

/**
 * The key: HOOKLINE_ENCRYPTION_KEY (32 bytes, base64), or the key file, created with 32
 * random bytes on first use (mode 0600). Every process of one deployment needs the same key.
 */
export async function loadEncryptionKey(configured: string, keyFile: string): Promise<Buffer> {
  if (configured !== '') {
    const key = Buffer.from(configured, 'base64');
    if (key.length !== 32)
      throw new SecretBoxError(
        'HOOKLINE_ENCRYPTION_KEY must be 32 bytes in base64 (openssl rand -base64 32)',
      );
    return key;
  }
  try {
    return parseKeyFile(await readFile(keyFile, 'utf8'), keyFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(keyFile), { recursive: true });
  try {
    await writeFile(keyFile, `${randomBytes(32).toString('base64')}\n`, {
      mode: 0o600,
      flag: 'wx',
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process won
  }
  return parseKeyFile(await readFile(keyFile, 'utf8'), keyFile);
}

function parseKeyFile(text: string, path: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) throw new SecretBoxError(`${path} does not hold a 32-byte base64 key`);
  return key;
}
