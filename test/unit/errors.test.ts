import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERRORS, isUnavailable } from '../../core/errors.js';

test('every error code is documented in docs/errors.md, and nothing else is', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
  for (const [code, { status }] of Object.entries(ERRORS)) {
    const row = doc.split('\n').find((l) => l.includes(`\`${code}\``));
    assert.ok(row, `${code} is missing from docs/errors.md`);
    assert.ok(
      row.includes(String(status)),
      `${code}: docs/errors.md does not give status ${status}`,
    );
  }
  const documented = [...doc.matchAll(/^\|\s*`([a-z_]+)`/gm)].map((m) => m[1]);
  for (const code of documented)
    assert.ok(code && code in ERRORS, `docs/errors.md lists ${code}, which the code does not have`);
});

test('codes are snake_case', () => {
  for (const code of Object.keys(ERRORS)) assert.match(code, /^[a-z]+(_[a-z]+)*$/);
});

test('isUnavailable: network failures of MongoDB and NATS, however wrapped; nothing else', () => {
  const network = Object.assign(new Error('read ECONNRESET'), { name: 'MongoNetworkError' });
  const bulk = Object.assign(new Error('read ECONNRESET'), {
    name: 'MongoBulkWriteError',
    errorResponse: network,
  });
  const selection = Object.assign(new Error('Server selection timed out after 3000 ms'), {
    name: 'MongoServerSelectionError',
  });
  const nats = Object.assign(new Error('TIMEOUT'), { name: 'NatsError', code: 'TIMEOUT' });
  const wrapped = new Error('publish failed', { cause: nats });
  for (const e of [network, bulk, selection, nats, wrapped]) assert.ok(isUnavailable(e), e.message);
  const duplicate = Object.assign(new Error('E11000 duplicate key'), { code: 11000 });
  for (const e of [duplicate, new TypeError('x is undefined'), null, 'text', 42])
    assert.equal(isUnavailable(e), false);
});
