import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createEgressAgent, postJson } from '../../core/egress.js';
import { parseAllowList } from '../../core/netaddr.js';

// postJson against real HTTP servers on 127.0.0.1: what it keeps of an answer, and its
// deadline, which covers the wait for a connection too.

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?x=1`,
    requests: () => requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

const agentWith = (connections = 8) =>
  createEgressAgent({ allow: parseAllowList('127.0.0.0/8'), connections });

/** A server and an agent for `fn`, both closed after it. */
async function withServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  connections: number,
  fn: (s: Awaited<ReturnType<typeof serve>>, agent: ReturnType<typeof agentWith>) => Promise<void>,
) {
  const s = await serve(handler);
  const agent = agentWith(connections);
  try {
    await fn(s, agent);
  } finally {
    await agent.close();
    await s.close();
  }
}

test('an answer: status, headers (repeated ones joined), path and query sent, body kept', async () => {
  let seen = '';
  await withServer(
    (req, res) => {
      seen = `${req.method} ${req.url} ${req.headers['webhook-id']} ${req.headers['user-agent']}`;
      req.resume();
      req.on('end', () => {
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.setHeader('retry-after', '7');
        res.writeHead(429);
        res.end('slow down');
      });
    },
    8,
    async (s, agent) => {
      const r = await postJson(agent, s.url, { 'webhook-id': 'msg_1' }, '{}', {
        timeoutMs: 2000,
        maxResponseBytes: 1024,
        extraHeaders: { 'user-agent': 'not-this', 'x-extra': 'y' },
      });
      assert.equal(seen, 'POST /hook?x=1 msg_1 hookline/0.1');
      assert.equal(r.statusCode, 429);
      assert.equal(r.headers['retry-after'], '7');
      assert.equal(r.headers['set-cookie'], 'a=1, b=2');
      assert.equal(r.body, 'slow down');
      assert.equal(r.error, null);
    },
  );
});

test('an endless answer: its first bytes are kept and the rest is not read', async () => {
  await withServer(
    (req, res) => {
      req.resume();
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const timer = setInterval(() => res.write(chunk), 1); // never ends
      res.on('close', () => clearInterval(timer));
    },
    8,
    async (s, agent) => {
      const started = Date.now();
      const r = await postJson(agent, s.url, {}, '{}', {
        timeoutMs: 5000,
        maxResponseBytes: 16 * 1024,
      });
      assert.equal(r.statusCode, 200);
      assert.equal(r.error, null);
      assert.equal(r.body.length, 16 * 1024);
      assert.ok(
        Date.now() - started < 2000,
        'settled once the limit was read, not at the deadline',
      );
    },
  );
});

test('the deadline covers the wait for a connection: a queued request times out and is never sent', async () => {
  await withServer(
    (req, res) => {
      req.resume();
      setTimeout(() => res.end('late'), 1500).unref();
    },
    1, // one connection: the second request waits behind the first
    async (s, agent) => {
      const first = postJson(agent, s.url, {}, '{}', { timeoutMs: 5000, maxResponseBytes: 1024 });
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      const second = await postJson(agent, s.url, {}, '{}', {
        timeoutMs: 300,
        maxResponseBytes: 1024,
      });
      const took = Date.now() - started;
      assert.equal(second.statusCode, null);
      assert.equal(second.error, 'timeout after 300 ms');
      assert.ok(took >= 250 && took < 1200, `timed out after ${took} ms`);
      assert.equal((await first).statusCode, 200);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(s.requests(), 1, 'the timed-out request never went out');
    },
  );
});

test('a refused connection and a malformed URL are failed results, never exceptions', async () => {
  const s = await serve((_req, res) => res.end());
  const url = s.url;
  await s.close();
  const agent = agentWith();
  try {
    const refused = await postJson(agent, url, {}, '{}', {
      timeoutMs: 2000,
      maxResponseBytes: 1024,
    });
    assert.equal(refused.statusCode, null);
    assert.match(refused.error ?? '', /ECONNREFUSED/);
    const bad = await postJson(agent, 'not a url', {}, '{}', {
      timeoutMs: 2000,
      maxResponseBytes: 1024,
    });
    assert.match(bad.error ?? '', /invalid URL/);
  } finally {
    await agent.close();
  }
});
