import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { waitFor } from '../helpers/env.js';
import { eventCount } from '../helpers/events.js';
import { startTestHookline } from '../helpers/hookline.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { startFileSidecar } from '../helpers/sidecar.js';

const dir = mkdtempSync(join(tmpdir(), 'hookline-outage-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const line = (i: number) =>
  `${JSON.stringify({ event: 'book.created', data: { i, pad: 'x'.repeat(200) } })}\n`;

function sidecarOn(natsUrl: string, path: string, registry = 'http://127.0.0.1:9', ns = 'outage') {
  return startFileSidecar({
    natsUrl,
    namespace: ns,
    path,
    topics: 'book.created',
    url: registry,
    token: 'test-admin-token',
  });
}

test('NATS goes away: reading pauses, memory stays bounded, and nothing is lost when it returns', async () => {
  const nats = await startNatsServer();
  const path = join(dir, 'flood.log');
  writeFileSync(path, line(0));
  const s = await sidecarOn(nats.url, path);
  try {
    await waitFor('the first event', async () => (await eventCount('outage', nats.url)) === 1);
    await nats.stop();
    // A flood while NATS is away: 60,000 lines, about 14 MB.
    const total = 60_000;
    const chunk: string[] = [];
    for (let i = 1; i < total; i++) {
      chunk.push(line(i));
      if (chunk.length === 5000) {
        appendFileSync(path, chunk.join(''));
        chunk.length = 0;
      }
    }
    appendFileSync(path, chunk.join(''));
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    await new Promise((r) => setTimeout(r, 2000));
    const heapDuring = process.memoryUsage().heapUsed;
    assert.ok(
      s.sidecar.stats.lines < 1000,
      `reading paused: ${s.sidecar.stats.lines} lines read while NATS was away`,
    );
    assert.ok(
      heapDuring - heapBefore < 50 * 1024 * 1024,
      `heap grew by ${heapDuring - heapBefore} bytes`,
    );

    await nats.start();
    await waitFor(
      'every line',
      async () => (await eventCount('outage', nats.url)) === total,
      60_000,
      200,
    );
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await eventCount('outage', nats.url), total);
  } finally {
    await s.close();
    await nats.close();
  }
});

test('the registry is unreachable at first: topic registration is retried until it answers', async () => {
  const port = await new Promise<number>((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  const path = join(dir, 'late-registry.log');
  writeFileSync(path, '');
  const h0 = { url: `http://127.0.0.1:${port}` };
  const { NATS_URL, isolation } = await import('../helpers/env.js');
  const iso = isolation('lateregistry');
  const s = await sidecarOn(NATS_URL, path, h0.url, iso.namespace);
  try {
    await new Promise((r) => setTimeout(r, 700));
    const h = await startTestHookline('lateregistry', { addr: `127.0.0.1:${port}` });
    try {
      await waitFor(
        'the topic in the catalogue',
        async () => {
          const t = await h.api('GET', '/v1/topics');
          return t.body.data.some((x: { name: string }) => x.name === 'book.created');
        },
        15_000,
      );
    } finally {
      await h.close();
    }
  } finally {
    await s.close();
    await iso.cleanup();
  }
});
