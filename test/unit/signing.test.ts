import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  secretKey,
  signatureHeader,
  signOne,
  verifySignature,
  generateSecret,
} from '../../core/signing.js';

// The Standard Webhooks reference libraries' published vector (libraries/*/tests).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

test('signs the reference vector exactly', () => {
  assert.equal(
    signOne(secretKey(VECTOR.secret), VECTOR.id, VECTOR.timestamp, VECTOR.body),
    VECTOR.signature,
  );
  // The secret may be given with or without its prefix.
  assert.equal(
    signOne(secretKey(VECTOR.secret.slice(6)), VECTOR.id, VECTOR.timestamp, VECTOR.body),
    VECTOR.signature,
  );
});

test('verifies the reference vector, and refuses its published near-miss', () => {
  const headers = {
    id: VECTOR.id,
    timestamp: String(VECTOR.timestamp),
    signature: VECTOR.signature,
  };
  verifySignature(VECTOR.secret, headers, VECTOR.body, { nowSec: VECTOR.timestamp });
  // The reference tests' "invalid signature" vector differs in one character.
  assert.throws(() =>
    verifySignature(
      VECTOR.secret,
      { ...headers, signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=' },
      VECTOR.body,
      { nowSec: VECTOR.timestamp },
    ),
  );
});

test('multi-signature headers verify when any v1 signature matches', () => {
  const header = [
    'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=',
    'v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=',
    VECTOR.signature,
  ].join(' ');
  verifySignature(
    VECTOR.secret,
    { id: VECTOR.id, timestamp: String(VECTOR.timestamp), signature: header },
    VECTOR.body,
    {
      nowSec: VECTOR.timestamp,
    },
  );
});

test('two live secrets give two space-separated signatures, each verifiable', () => {
  const a = generateSecret();
  const b = generateSecret();
  const header = signatureHeader([secretKey(a), secretKey(b)], 'msg_1', 1700000000, '{}');
  assert.equal(header.split(' ').length, 2);
  for (const s of [a, b]) {
    verifySignature(s, { id: 'msg_1', timestamp: '1700000000', signature: header }, '{}', {
      nowSec: 1700000000,
    });
  }
});

test('generated secrets carry 32 random bytes', () => {
  const s = generateSecret();
  assert.match(s, /^whsec_[A-Za-z0-9+/]+=*$/);
  assert.equal(secretKey(s).length, 32);
  assert.notEqual(s, generateSecret());
});

test('refuses stale timestamps, tampered bodies and missing headers', () => {
  const s = generateSecret();
  const sig = signatureHeader([secretKey(s)], 'msg_1', 1000, 'body');
  assert.throws(() =>
    verifySignature(s, { id: 'msg_1', timestamp: '1000', signature: sig }, 'body', {
      nowSec: 2000,
    }),
  );
  assert.throws(() =>
    verifySignature(s, { id: 'msg_1', timestamp: '1000', signature: sig }, 'b0dy', {
      nowSec: 1000,
    }),
  );
  assert.throws(() =>
    verifySignature(s, { id: 'msg_1', timestamp: '1000' }, 'body', { nowSec: 1000 }),
  );
  assert.throws(() =>
    verifySignature(s, { id: 'msg_1', timestamp: 'abc', signature: sig }, 'body', { nowSec: 1000 }),
  );
});

test('property: no forged or garbled signature header verifies, and nothing but SignatureError is thrown', async () => {
  const fc = (await import('fast-check')).default;
  const { SignatureError } = await import('../../core/signing.js');
  const secret = generateSecret();
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.array(fc.string()).map((a) => a.join(' ')),
        fc.base64String().map((b) => `v1,${b}`),
      ),
      (header) => {
        assert.throws(
          () =>
            verifySignature(
              secret,
              { id: 'msg_1', timestamp: '1700000000', signature: header },
              'body',
              { nowSec: 1700000000 },
            ),
          (e: unknown) => e instanceof SignatureError,
        );
      },
    ),
  );
});
