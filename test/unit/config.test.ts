import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../core/config.js';
import { deliveryId, ulid } from '../../core/ids.js';
import { parseArgs } from '../../cli/args.js';

test('defaults match the contract', () => {
  const c = loadConfig({}, {});
  assert.deepEqual(c.addr, { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(c.natsUrl, ['nats://127.0.0.1:4222']);
  assert.equal(c.mongodbUrl, 'mongodb://127.0.0.1:27017/hookline');
  assert.equal(c.namespace, 'hookline');
  assert.equal(c.verifyEndpoints, true);
  assert.equal(c.retrySchedule.length, 7);
  assert.equal(c.url, 'http://127.0.0.1:8080');
  assert.ok(Object.isFrozen(c));
});

test('flags win over variables, variables over defaults', () => {
  const c = loadConfig(
    { namespace: 'fromflag' },
    { HOOKLINE_NAMESPACE: 'fromenv', HOOKLINE_VERIFY_ENDPOINTS: 'false' },
  );
  assert.equal(c.namespace, 'fromflag');
  assert.equal(c.verifyEndpoints, false);
});

test('bad settings name the setting', () => {
  assert.throws(
    () => loadConfig({}, { HOOKLINE_NAMESPACE: 'a.b' }),
    (e: Error) => e instanceof ConfigError && /HOOKLINE_NAMESPACE/.test(e.message),
  );
  assert.throws(() => loadConfig({}, { HOOKLINE_RETRY_SCHEDULE: '5x' }), /HOOKLINE_RETRY_SCHEDULE/);
  assert.throws(
    () => loadConfig({}, { HOOKLINE_ALLOW_TARGETS: '10.0.0.0/99' }),
    /HOOKLINE_ALLOW_TARGETS/,
  );
  assert.throws(() => loadConfig({}, { HOOKLINE_ADDR: 'nowhere' }), /HOOKLINE_ADDR/);
});

test('CLI flags map to settings; endpoints create keeps --url for the endpoint', () => {
  const a = parseArgs(['all', '--nats-url', 'nats://x:4222', '--namespace=ns1']);
  assert.deepEqual(a.settings, { natsUrl: 'nats://x:4222', namespace: 'ns1' });
  const b = parseArgs([
    'endpoints',
    'create',
    '--url',
    'https://r.example/hook',
    '--topic',
    'a',
    '--topic',
    'b',
    '--api-url',
    'http://h:1',
  ]);
  assert.deepEqual(b.flags.get('url'), ['https://r.example/hook']);
  assert.deepEqual(b.flags.get('topic'), ['a', 'b']);
  assert.equal(b.settings.url, 'http://h:1');
});

test('ids sort by time; delivery ids are derived, not random', () => {
  assert.ok(ulid(1000) < ulid(2000));
  assert.equal(ulid().length, 26);
  assert.equal(deliveryId('msg_A', 'ep_B'), deliveryId('msg_A', 'ep_B'));
  assert.notEqual(deliveryId('msg_A', 'ep_B'), deliveryId('msg_A', 'ep_C'));
});
