import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERRORS } from '../../core/errors.js';

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
