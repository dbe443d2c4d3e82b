/**
 * The benchmark's receiver, in a worker thread of its own so that publishing load in the
 * main thread does not delay receipts. Answers 200 (or `fail` answers 503), counts, and
 * for bodies carrying `data.sent_at` records publish-to-receipt latency.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort } from 'node:worker_threads';

let count = 0;
let failed = 0;
let first = 0;
let last = 0;
let latencies: number[] = [];

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const now = Date.now();
    if ((req.url ?? '').startsWith('/fail')) {
      failed++;
      res.writeHead(503);
      res.end();
      return;
    }
    count++;
    if (first === 0) first = now;
    last = now;
    if (chunks.length > 0 && chunks[0]?.includes('sent_at')) {
      try {
        const sent = (
          JSON.parse(Buffer.concat(chunks).toString()) as { data?: { sent_at?: number } }
        ).data?.sent_at;
        if (typeof sent === 'number') latencies.push(now - sent);
      } catch {
        // not a bench event
      }
    }
    res.writeHead(200);
    res.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  parentPort?.postMessage({ kind: 'listening', port: (server.address() as AddressInfo).port });
});
parentPort?.on('message', (msg: { kind: string }) => {
  if (msg.kind === 'stats')
    parentPort?.postMessage({ kind: 'stats', count, failed, first, last, latencies });
  if (msg.kind === 'reset') {
    count = 0;
    failed = 0;
    first = 0;
    last = 0;
    latencies = [];
  }
  if (msg.kind === 'close') server.close(() => process.exit(0));
});
