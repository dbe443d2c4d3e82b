import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sleep } from '../../core/lifecycle.js';
import { isolation, NATS_URL, waitFor } from '../helpers/env.js';
import { apiClient } from '../helpers/hookline.js';
import { kill, spawnHookline } from '../helpers/process.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

// Real `hookline all` processes, stopped with SIGTERM and SIGKILL.

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

function envFor(iso: ReturnType<typeof isolation>, extra: Record<string, string> = {}) {
  return {
    HOOKLINE_ADDR: '127.0.0.1:0',
    HOOKLINE_NATS_URL: NATS_URL,
    HOOKLINE_MONGODB_URL: iso.mongodbUrl,
    HOOKLINE_NAMESPACE: iso.namespace,
    HOOKLINE_ALLOW_TARGETS: '127.0.0.0/8',
    HOOKLINE_LOG_LEVEL: 'info',
    ...extra,
  };
}

async function receiver(handler?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(handler);
  cleanups.push(() => r.close());
  return r;
}

test('with no admin token configured, one is generated, printed once, and kept', async () => {
  const iso = isolation('admintoken');
  cleanups.push(() => iso.cleanup());
  const first = await spawnHookline(['all'], envFor(iso));
  const token = /\n {2}(hl_admin_[A-Za-z0-9_-]+)\n/.exec(first.stderr())?.[1];
  assert.ok(token, `no token printed:\n${first.stderr()}`);
  assert.ok(!first.stdout().includes(token), 'the token is not in the logs');
  const api = apiClient(first.url, token);
  assert.equal((await api('POST', '/v1/topics', { name: 'kept.topic' })).status, 201);
  assert.equal((await apiClient(first.url, 'wrong')('GET', '/v1/topics')).status, 401);
  assert.equal(await kill(first, 'SIGTERM'), 0);

  const second = await spawnHookline(['all'], envFor(iso));
  cleanups.push(() => kill(second, 'SIGKILL'));
  assert.ok(!second.stderr().includes('hl_admin_'), 'the token is printed only once');
  const list = await apiClient(second.url, token)('GET', '/v1/topics');
  assert.equal(list.status, 200, 'the same token works after a restart');
  assert.deepEqual(
    list.body.data
      .map((t: { name: string }) => t.name)
      .filter((n: string) => !n.startsWith('hookline.')),
    ['kept.topic'],
  );
});

test('SIGTERM with a delivery in flight exits 0 within 10 s, and the delivery is made after restart', async () => {
  const iso = isolation('sigterm');
  cleanups.push(() => iso.cleanup());
  let hang = true;
  const r = await receiver((_req, res) => {
    if (hang) return; // holds the request open
    res.writeHead(200);
    res.end();
  });
  const env = envFor(iso, { HOOKLINE_ADMIN_TOKEN: 'adm', HOOKLINE_DELIVERY_TIMEOUT: '30s' });
  const p = await spawnHookline(['all'], env);
  const api = apiClient(p.url, 'adm');
  await api('POST', '/v1/topics', { name: 'term.topic' });
  const ep = await api('POST', '/v1/endpoints', { url: r.url, topics: ['term.topic'] });
  assert.equal(ep.status, 201);
  const msg = await api('POST', '/v1/messages', { topic: 'term.topic', data: { n: 1 } });
  assert.equal(msg.status, 202);
  await waitFor('the delivery to be in flight', () => r.events.length === 1);

  const started = Date.now();
  const code = await kill(p, 'SIGTERM');
  const took = Date.now() - started;
  assert.equal(code, 0);
  assert.ok(took < 10_000, `shutdown took ${took} ms`);

  hang = false;
  const again = await spawnHookline(['all'], env);
  cleanups.push(() => kill(again, 'SIGKILL'));
  const api2 = apiClient(again.url, 'adm');
  await waitFor(
    'the delivery to succeed after the restart',
    async () => {
      const ds = await api2('GET', `/v1/messages/${msg.body.id}/deliveries`);
      return ds.body.data[0]?.status === 'succeeded';
    },
    20_000,
  );
  assert.ok(r.events.length >= 2);
});

test('SIGKILL loses nothing: every accepted message is delivered after a restart', async () => {
  const iso = isolation('sigkill');
  cleanups.push(() => iso.cleanup());
  let healthy = false;
  const r = await receiver((_req, res) => {
    res.writeHead(healthy ? 200 : 503);
    res.end();
  });
  const env = envFor(iso, {
    HOOKLINE_ADMIN_TOKEN: 'adm',
    HOOKLINE_DELIVERY_TIMEOUT: '2s',
    HOOKLINE_RETRY_SCHEDULE:
      '300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s',
  });
  const p = await spawnHookline(['all'], env);
  const api = apiClient(p.url, 'adm');
  await api('POST', '/v1/topics', { name: 'kill.topic' });
  await api('POST', '/v1/endpoints', { url: r.url, topics: ['kill.topic'] });
  const accepted: string[] = [];
  for (let i = 0; i < 40; i++) {
    const res = await api('POST', '/v1/messages', { topic: 'kill.topic', data: { i } });
    assert.equal(res.status, 202);
    accepted.push(res.body.id);
  }
  // Five failures open the circuit (probes then come 1 s, 2 s, … apart): retries are waiting.
  await waitFor('some failing attempts', () => r.events.length >= 6);
  assert.equal(await kill(p, 'SIGKILL'), 'SIGKILL');

  healthy = true;
  const again = await spawnHookline(['all'], env);
  cleanups.push(() => kill(again, 'SIGKILL'));
  const api2 = apiClient(again.url, 'adm');
  await waitFor(
    'every accepted message to be received with a 200',
    () => {
      const ok = new Set(
        r.events.filter((e) => e.at > 0).map((e) => e.headers['webhook-id'] as string),
      );
      return accepted.every((id) => ok.has(id));
    },
    30_000,
  );
  await waitFor(
    'every delivery to be recorded as succeeded',
    async () => {
      const ds = await api2('GET', '/v1/deliveries?status=succeeded&limit=1000');
      return ds.body.data.length === accepted.length;
    },
    15_000,
  );
  const messages = await api2('GET', '/v1/messages?limit=1000');
  assert.equal(messages.body.data.length, accepted.length, 'the record survived the crash');
});

test('SIGKILL during an event’s first attempts: what was recorded is not attempted again, the rest is', async () => {
  // Fan-out attempts an event's deliveries itself and acknowledges the event only when
  // every attempt is recorded. Killed in between, the event comes back; the delivery whose
  // success was recorded must not be sent again, the one whose attempt was cut off must.
  const iso = isolation('sigkillfirst');
  cleanups.push(() => iso.cleanup());
  const quick = await receiver();
  let hang = true;
  const slow = await receiver((_req, res) => {
    if (hang) return; // held open until the process dies
    res.writeHead(200);
    res.end();
  });
  // ack_wait is twice the delivery timeout (at least 5 s): the event comes back ~10 s on.
  const env = envFor(iso, { HOOKLINE_ADMIN_TOKEN: 'adm', HOOKLINE_DELIVERY_TIMEOUT: '5s' });
  const p = await spawnHookline(['all'], env);
  const api = apiClient(p.url, 'adm');
  await api('POST', '/v1/topics', { name: 'first.topic' });
  for (const url of [quick.url, slow.url])
    assert.equal(
      (await api('POST', '/v1/endpoints', { url, topics: ['first.topic'] })).status,
      201,
    );
  const msg = await api('POST', '/v1/messages', { topic: 'first.topic', data: { n: 1 } });
  assert.equal(msg.status, 202);
  const statuses = async (client: typeof api) => {
    const ds = await client('GET', `/v1/messages/${msg.body.id}/deliveries`);
    return (ds.body.data as Array<{ status: string }>).map((d) => d.status).sort();
  };
  await waitFor('one delivery recorded as succeeded, the other in flight', async () => {
    return slow.events.length === 1 && (await statuses(api)).join() === 'pending,succeeded';
  });
  assert.equal(await kill(p, 'SIGKILL'), 'SIGKILL');

  hang = false;
  const again = await spawnHookline(['all'], env);
  cleanups.push(() => kill(again, 'SIGKILL'));
  const api2 = apiClient(again.url, 'adm');
  await waitFor(
    'both deliveries to succeed after the restart',
    async () => (await statuses(api2)).join() === 'succeeded,succeeded',
    30_000,
  );
  await sleep(500);
  assert.equal(slow.events.length, 2, 'the cut-off attempt is made again');
  assert.equal(quick.events.length, 1, 'the recorded success is not sent again');
});

test('the README demo (npm start) brings hookline up, shows a signed event delivered, and the web UI answers', async () => {
  const iso = isolation('demo');
  cleanups.push(() => iso.cleanup());
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['scripts/up.mjs', '--once'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOOKLINE_MONGODB_URL: iso.mongodbUrl,
      HOOKLINE_NAMESPACE: iso.namespace,
      HOOKLINE_NATS_URL: NATS_URL,
      HOOKLINE_ADDR: '127.0.0.1:0',
      HOOKLINE_ADMIN_TOKEN: 'demo-admin',
    },
    // Standard input is a pipe: the demo stays up until it closes.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  cleanups.push(async () => {
    child.stdin.end();
    child.kill('SIGTERM');
  });
  const consoleUrl = await waitFor(
    'the console URL to be printed',
    () => /^console +(http:\/\/\S+)/m.exec(out)?.[1] ?? (child.exitCode !== null ? 'exited' : null),
    60_000,
    100,
  );
  assert.notEqual(consoleUrl, 'exited', out);
  assert.match(out, /subscriber: received book\.created .*signature OK/);
  assert.match(out, /delivery +dlv_\S+ +succeeded, 1 attempt/);
  assert.match(
    out,
    /POST \/books → log line → sidecar → JetStream → dispatcher → subscriber: delivered/,
  );

  // The console answers at the printed URL, with its page and its policy.
  const page = await fetch(consoleUrl);
  assert.equal(page.status, 200, out);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  const html = await page.text();
  assert.match(html, /hookline console/);
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(script, html);
  assert.equal((await fetch(new URL(script, consoleUrl))).status, 200);

  // The portal link opens User A's portal, and its session sees User A's endpoint.
  const link = /^portal +(http:\/\/\S+)/m.exec(out)?.[1];
  assert.ok(link, out);
  assert.equal((await fetch(link)).status, 200);
  const code = new URLSearchParams(new URL(link).hash.slice(1)).get('code');
  if (code) {
    const base = new URL(consoleUrl).origin;
    const session = await apiClient(base, null)('POST', '/v1/portal/sessions', { code });
    assert.equal(session.status, 201, JSON.stringify(session.body));
    assert.equal(session.body.subscriber.name, 'User A');
    const eps = await apiClient(base, session.body.token)('GET', '/v1/endpoints');
    assert.equal(eps.body.data.length, 1);
    assert.match(eps.body.data[0].url, /\/receive-events$/);
  } else {
    assert.match(out, /sign in with User A's key: hl_sub_/);
  }

  child.stdin.end();
  assert.equal(await exited, 0, out);
});

test('hookline dispatcher serves /metrics on HOOKLINE_METRICS_ADDR, backlog gauges included', async () => {
  const iso = isolation('metrics');
  cleanups.push(() => iso.cleanup());
  const d = await spawnHookline(
    ['dispatcher'],
    envFor(iso, { HOOKLINE_METRICS_ADDR: '127.0.0.1:0' }),
  );
  cleanups.push(() => kill(d, 'SIGKILL'));
  const url = await waitFor(
    'the metrics address',
    () => /"url":"(http:\/\/[^"]+\/metrics)","msg":"metrics listening"/.exec(d.stdout())?.[1],
  );
  const res = await fetch(url);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /hookline_consumer_backlog\{consumer="deliver"\} 0/);
  assert.match(text, /hookline_consumer_backlog\{consumer="parked"\} 0/);
  assert.match(text, /^hookline_subscribed_endpoints 0$/m);
  assert.match(text, /hookline_delivery_attempts_total|hookline_deliveries_created_total/);
  // ?name= serves only the metrics named (a cheap poll: no JetStream requests).
  const some = await (
    await fetch(
      `${url}?name=hookline_subscribed_endpoints&name=hookline_deliveries_stored_total&name=nope`,
    )
  ).text();
  assert.match(some, /^hookline_subscribed_endpoints 0$/m);
  assert.match(some, /^hookline_deliveries_stored_total 0$/m);
  assert.doesNotMatch(some, /hookline_consumer_backlog|nope/);
  assert.equal(await kill(d, 'SIGTERM'), 0);
});
