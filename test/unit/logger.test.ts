import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../core/logger.js';

test('secrets and tokens never reach the logs', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const log = createLogger('info', sink);
  log.info({ secret: 'whsec_SHOULD_NOT_APPEAR', token: 'hl_sub_SHOULD_NOT_APPEAR' }, 'top level');
  log.info(
    {
      endpoint: { secret: 'whsec_NESTED', secrets: ['whsec_LIST'] },
      principal: { api_key: 'hl_sub_NESTED' },
    },
    'nested',
  );
  log.info({ req: { headers: { authorization: 'Bearer hl_admin_SECRET' } } }, 'request');
  log.info({ config: { adminToken: 'hl_admin_CONFIG', token: 'hl_pub_CONFIG' } }, 'config');
  await new Promise((r) => setImmediate(r));
  const text = lines.join('');
  for (const leak of [
    'SHOULD_NOT_APPEAR',
    'whsec_NESTED',
    'whsec_LIST',
    'hl_sub_NESTED',
    'hl_admin_SECRET',
    'hl_admin_CONFIG',
    'hl_pub_CONFIG',
  ]) {
    assert.ok(!text.includes(leak), `${leak} reached the log`);
  }
  const parsed = lines.map((l) => JSON.parse(l));
  assert.equal(parsed[0].secret, '[redacted]');
  assert.equal(parsed[2].req.headers.authorization, '[redacted]');
});
