import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { createSecretBox, loadEncryptionKey, SecretBoxError } from '../../core/secretbox.js';

test('seal and open round-trip; every seal differs; legacy plaintext reads as it is', () => {
  const box = createSecretBox(randomBytes(32));
  fc.assert(
    fc.property(fc.string(), (s) => {
      const sealed = box.seal(s);
      assert.match(sealed, /^enc:v1:/);
      assert.equal(box.open(sealed), s);
    }),
  );
  assert.notEqual(box.seal('whsec_x'), box.seal('whsec_x'));
  assert.equal(box.open('whsec_legacy'), 'whsec_legacy');
});

test('a tampered value or the wrong key is refused, never half-read', () => {
  const box = createSecretBox(randomBytes(32));
  const sealed = box.seal('whsec_secret');
  const raw = Buffer.from(sealed.slice(7), 'base64');
  raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
  assert.throws(() => box.open(`enc:v1:${raw.toString('base64')}`), SecretBoxError);
  assert.throws(() => createSecretBox(randomBytes(32)).open(sealed), /HOOKLINE_ENCRYPTION_KEY/);
  assert.throws(() => createSecretBox(randomBytes(16)), SecretBoxError);
});

test('the key comes from HOOKLINE_ENCRYPTION_KEY or a key file made once, private to its owner', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-key-'));
  const file = join(dir, 'sub', 'encryption.key');
  const first = await loadEncryptionKey('', file);
  assert.equal(first.length, 32);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(await loadEncryptionKey('', file), first, 'the same key on the next start');
  assert.equal(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64').length, 32);
  const configured = randomBytes(32);
  assert.deepEqual(await loadEncryptionKey(configured.toString('base64'), file), configured);
  await assert.rejects(loadEncryptionKey('c2hvcnQ=', file), /32 bytes/);
});
