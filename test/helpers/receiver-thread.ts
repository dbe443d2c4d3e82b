/**
 * A receiver (receiver.ts) alone in a worker thread, for tests that measure when requests
 * arrive: its clock readings wait for nothing the test's own thread does (the test runner,
 * API calls, garbage collection). Posts `{ url }` once listening, then `{ id, at, data }`
 * for every request; stops on 'close'. It also notes when its own event loop was held up
 * for more than 5 ms (`{ stall: [from, to] }`: on a busy machine a thread can wait tens of
 * ms for a CPU), so that a test can tell how late it may have read the clock.
 */
import { parentPort } from 'node:worker_threads';
import { startReceiver } from './receiver.js';

const port = parentPort;
if (!port) throw new Error('receiver-thread.ts runs as a worker thread');

const r = await startReceiver((req, res) => {
  port.postMessage({
    id: String(req.headers['webhook-id'] ?? ''),
    at: req.at,
    data: req.json.data,
  });
  res.writeHead(200);
  res.end();
});
let tick = Date.now();
const watch = setInterval(() => {
  const now = Date.now();
  if (now - tick > 5) port.postMessage({ stall: [tick, now] });
  tick = now;
}, 2);
port.on('message', (m: unknown) => {
  if (m !== 'close') return;
  clearInterval(watch);
  void r.close().then(() => port.close());
});
port.postMessage({ url: r.url });
