import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Worker } from 'node:worker_threads';

export interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  json: { type?: string; data?: { token?: string } & Record<string, unknown> } & Record<
    string,
    unknown
  >;
  at: number;
}

export type Handler = (req: Received, res: ServerResponse, count: number) => void | Promise<void>;

/** Answers the verification handshake by echoing the token, everything else with 200. */
export const echoVerification: Handler = (req, res) => {
  if (req.json.type === 'endpoint.verification') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: req.json.data?.token }));
    return;
  }
  res.writeHead(200);
  res.end();
};

/**
 * A real HTTP receiver on 127.0.0.1 and a free port. Records every request; `events`
 * are the non-verification ones. Its behaviour can change mid-test with `handle`.
 */
export async function startReceiver(handler: Handler = echoVerification) {
  const requests: Received[] = [];
  let current = handler;
  let eventCount = 0;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json = {};
      try {
        json = JSON.parse(body);
      } catch {
        // not JSON: recorded as text
      }
      const r: Received = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        json,
        at: Date.now(),
      };
      requests.push(r);
      const isVerification = (json as { type?: string }).type === 'endpoint.verification';
      if (!isVerification) eventCount++;
      if (isVerification) return echoVerification(r, res, 0);
      void Promise.resolve(current(r, res, eventCount)).catch(() => res.destroy());
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get events() {
      return requests.filter((r) => r.json.type !== 'endpoint.verification');
    },
    handle(h: Handler) {
      current = h;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** Receivers started by one test file, all closed together when it ends. */
export function receiverPool() {
  const started: Receiver[] = [];
  return {
    async start(handler?: Handler): Promise<Receiver> {
      const r = await startReceiver(handler);
      started.push(r);
      return r;
    },
    async closeAll(): Promise<void> {
      for (const r of started.splice(0)) await r.close();
    },
  };
}

export interface Arrival {
  /** The request's `webhook-id`. */
  id: string;
  /** Date.now() when its body had arrived. */
  at: number;
  data: Record<string, unknown> | undefined;
}

/**
 * A receiver in a worker thread of its own (receiver-thread.ts) that answers 200 and records
 * when each request arrived, for tests that measure timing. `stalls` are the moments its
 * own event loop was held up for more than 5 ms.
 */
export async function startTimingReceiver() {
  const src = new URL('./receiver-thread.ts', import.meta.url).href;
  // Loader flags do not reach workers: the worker registers tsx itself.
  const worker = new Worker(
    `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(src)}); });`,
    { eval: true },
  );
  const arrivals: Arrival[] = [];
  const stalls: Array<[number, number]> = [];
  const url = await new Promise<string>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m: { url?: string; stall?: [number, number] } & Partial<Arrival>) => {
      if (m.url) resolve(m.url);
      else if (m.stall) stalls.push(m.stall);
      else if (m.id !== undefined && m.at !== undefined)
        arrivals.push({ id: m.id, at: m.at, data: m.data });
    });
  });
  return {
    url,
    arrivals,
    stalls,
    async close() {
      const gone = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('close');
      await gone;
    },
  };
}
