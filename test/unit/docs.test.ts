import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { settingsTable } from '../../core/config.js';

test('docs/operations.md documents every setting, with its variable and default', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'operations.md'), 'utf8');
  for (const s of settingsTable()) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${s.flag}\``));
    assert.ok(row, `${s.flag} is missing from docs/operations.md`);
    assert.ok(row.includes(`\`${s.env}\``), `${s.flag}: the row does not name ${s.env}`);
    assert.ok(
      s.def === '' ? row.includes('empty') : row.includes(`\`${s.def}\``),
      `${s.flag}: the row does not give the default ${s.def}`,
    );
  }
});
