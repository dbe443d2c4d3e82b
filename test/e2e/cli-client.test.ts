import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseArgs } from '../../cli/args.js';
import { runClient } from '../../cli/client.js';
import { loadConfig } from '../../core/config.js';
import { waitFor } from '../helpers/env.js';
import { ADMIN, startTestHookline, type TestHookline } from '../helpers/hookline.js';
import { receiverPool } from '../helpers/receiver.js';

// The CLI's client commands go through core/api-client.ts, the client the web UI uses.

let h: TestHookline;
const receivers = receiverPool();
before(async () => {
  h = await startTestHookline('cliclient');
});
after(async () => {
  await receivers.closeAll();
  await h?.close();
});

async function cli(...argv: string[]): Promise<string> {
  const args = parseArgs(argv);
  const config = loadConfig({ ...args.settings, url: h.url, token: ADMIN }, {});
  return runClient(args.positionals[0] as string, args, config);
}
const json = async (...argv: string[]) => JSON.parse(await cli(...argv, '--output', 'json'));

test('topics, endpoints, publish, messages and deliveries through the shared client', async () => {
  const r = await receivers.start();
  assert.match(
    await cli('topics', 'create', 'cli.topic', '--description', 'from the CLI'),
    /cli\.topic/,
  );
  assert.deepEqual(
    (await json('topics', 'list'))
      .map((t: { name: string }) => t.name)
      .filter((n: string) => n === 'cli.topic'),
    ['cli.topic'],
  );
  const ep = await json(
    'endpoints',
    'create',
    '--url',
    `${r.url}/cli`,
    '--topic',
    'cli.topic',
    '--rate-limit',
    '5',
  );
  assert.equal(ep.status, 'active');
  assert.equal(ep.rate_limit, 5);
  assert.match(ep.secret, /^whsec_/);
  assert.match(await cli('endpoints', 'list'), new RegExp(`${ep.id}\\s+active`));
  assert.equal((await json('endpoints', 'disable', ep.id)).status, 'disabled');
  assert.equal((await json('endpoints', 'enable', ep.id)).status, 'active');
  assert.notEqual((await json('endpoints', 'rotate-secret', ep.id)).secret, ep.secret);

  const msg = await json('publish', 'cli.topic', '{"n":1}', '--idempotency-key', 'cli-1');
  assert.equal(
    (await json('publish', 'cli.topic', '{"n":2}', '--idempotency-key', 'cli-1')).id,
    msg.id,
  );
  assert.deepEqual((await json('messages', 'get', msg.id)).data, { n: 1 });
  const delivery = await waitFor('the delivery to succeed', async () => {
    const ds = await json('messages', 'deliveries', msg.id);
    return ds[0]?.status === 'succeeded' ? ds[0] : null;
  });
  assert.equal(
    (await json('deliveries', 'list', '--endpoint-id', ep.id, '--limit', '1')).length,
    1,
  );
  const attempts = await json('deliveries', 'attempts', delivery.id);
  assert.equal(attempts[0].status_code, 200);
  assert.match(await cli('deliveries', 'get', delivery.id), /status +succeeded/);
  assert.equal(await cli('endpoints', 'delete', ep.id), 'ok');
});

test('an API error reads as status, code and message', async () => {
  await assert.rejects(cli('endpoints', 'get', 'ep_nope'), {
    message: '404 endpoint_not_found: Unknown endpoint "ep_nope".',
  });
  const args = parseArgs(['topics', 'list']);
  const config = loadConfig({ url: h.url, token: 'wrong' }, {});
  await assert.rejects(runClient('topics', args, config), /^Error: 401 unauthorized: /);
});
