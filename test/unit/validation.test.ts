import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { loadConfig } from '../../core/config.js';
import { ApiError } from '../../core/errors.js';
import { jsonShapeProblem } from '../../registry/app.js';
import type { RegistryDeps } from '../../registry/context.js';
import { checkHeaders, checkUrl } from '../../registry/verification.js';

const deps = { config: loadConfig({}, {}) } as RegistryDeps;

test('checkUrl: any string gives an http(s) URL without credentials, or a 422 — nothing else', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.webUrl({ withQueryParameters: true, withFragments: true }),
        fc.constantFrom(
          'ftp://x/',
          'http://u:p@h/',
          'javascript:alert(1)',
          'http://[::1]/',
          'http://10.0.0.1/',
          'http://0x7f.1/',
        ),
      ),
      (s) => {
        try {
          const url = checkUrl(deps, s);
          assert.ok(url.protocol === 'http:' || url.protocol === 'https:');
          assert.equal(url.username + url.password, '');
        } catch (err) {
          assert.ok(err instanceof ApiError, String(err));
          assert.equal(err.status, 422);
        }
      },
    ),
  );
  for (const denied of [
    'http://127.0.0.1/',
    'http://[::1]/',
    'http://10.0.0.1/',
    'http://0x7f.1/',
    'http://169.254.169.254/latest',
  ]) {
    assert.throws(
      () => checkUrl(deps, denied),
      (e: ApiError) => e.code === 'target_not_allowed',
      denied,
    );
  }
});

test('checkHeaders: protocol headers are refused in any case; others are kept, lower-cased', () => {
  const reserved = [
    'Content-Type',
    'content-length',
    'HOST',
    'Webhook-Id',
    'webhook-signature',
    'Transfer-Encoding',
    'proxy-authorization',
    'User-Agent',
  ];
  for (const name of reserved) assert.throws(() => checkHeaders({ [name]: 'x' }), ApiError, name);
  fc.assert(
    fc.property(
      fc.stringMatching(/^X-[A-Za-z0-9-]{1,20}$/),
      fc.string({ maxLength: 50 }),
      (name, value) => {
        assert.deepEqual(checkHeaders({ [name]: value }), { [name.toLowerCase()]: value });
      },
    ),
  );
});

test('JSON shape limits: ordinary JSON passes, deep or huge JSON does not', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 10 }), (v) => assert.equal(jsonShapeProblem(v), null)),
  );
  let deep: unknown = 0;
  for (let i = 0; i < 33; i++) deep = [deep];
  assert.match(jsonShapeProblem(deep) ?? '', /deeper than 32/);
  assert.match(
    jsonShapeProblem(Array.from({ length: 100_001 }, () => 1)) ?? '',
    /more than 100000/,
  );
});
