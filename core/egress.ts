import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { type Cidr, deniedReason } from './netaddr.js';

export class EgressDeniedError extends Error {
  override name = 'EgressDeniedError';
  readonly code = 'HL_ERR_EGRESS_DENIED';
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A DNS lookup that refuses a name when any of its addresses is non-public. Net and TLS
 * connect through it, so the address checked is the address connected to: there is no
 * window between a check and a second resolution (DNS rebinding).
 */
export function guardedLookup(allow: readonly Cidr[]) {
  return (
    hostname: string,
    options: { all?: boolean; family?: number },
    callback: LookupCallback,
  ) => {
    dnsLookup(hostname, { family: options.family ?? 0, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const a of addresses) {
        const why = deniedReason(a.address, allow);
        if (why) {
          return callback(
            new EgressDeniedError(`${hostname} resolves to ${a.address} (${why})`),
            [],
          );
        }
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new EgressDeniedError(`${hostname} has no address`), []);
      callback(null, first.address, first.family);
    });
  };
}

export interface EgressOptions {
  allow: readonly Cidr[];
  connectTimeoutMs?: number;
  connections?: number;
}

/**
 * The one undici Agent every outbound request goes through. IP literals are checked
 * here (net.connect skips lookup for them); names are checked by the lookup above.
 * Proxy variables are not read: undici's Agent never consults them.
 */
export function createEgressAgent(options: EgressOptions): Agent {
  const base = buildConnector({
    timeout: options.connectTimeoutMs ?? 10_000,
    lookup: guardedLookup(options.allow),
  } as buildConnector.BuildOptions);
  const connect: buildConnector.connector = (opts, callback) => {
    const host = opts.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      const why = deniedReason(host, options.allow);
      if (why) {
        callback(new EgressDeniedError(`${host} is not allowed (${why})`), null);
        return;
      }
    }
    base(opts, callback);
  };
  return new Agent({
    connect,
    connections: options.connections ?? 64,
    keepAliveTimeout: 30_000,
    pipelining: 1,
  });
}

export interface PostResult {
  statusCode: number | null;
  headers: Record<string, string>;
  body: string;
  durationMs: number;
  error: string | null;
  denied: boolean;
}

/** A request in flight: settles once, whatever happens after. */
interface Exchange {
  settle: (r: PostResult) => void;
  /** Set once undici starts the request; null while it waits for a connection. */
  controller: Dispatcher.DispatchController | null;
  done: boolean;
  timedOut: () => void;
}

/**
 * The deadlines of requests in flight, checked by one timer every 100 ms while there are
 * any (a timer or an AbortSignal per request is work for the garbage collector at
 * thousands of requests a second).
 */
const DEADLINE_TICK_MS = 100;
const deadlines = new Map<Exchange, number>();
let deadlineTimer: NodeJS.Timeout | null = null;

function watchDeadline(x: Exchange, timeoutMs: number): void {
  deadlines.set(x, performance.now() + timeoutMs);
  if (deadlineTimer) return;
  deadlineTimer = setInterval(() => {
    const now = performance.now();
    for (const [ex, at] of deadlines) {
      if (at > now) continue;
      deadlines.delete(ex);
      ex.timedOut();
    }
    if (deadlines.size === 0 && deadlineTimer) {
      clearInterval(deadlineTimer);
      deadlineTimer = null;
    }
  }, DEADLINE_TICK_MS);
  deadlineTimer.unref();
}

/**
 * POSTs a body and reports what happened; never throws. Redirects are not followed
 * (undici's dispatch never follows them), the whole exchange — waiting for a connection
 * included — has a deadline, and only the first `maxResponseBytes` of the answer are
 * kept: past them the exchange is cut off, so a hostile receiver cannot make us buffer
 * or read without limit.
 *
 * Built on undici's dispatch rather than its request API: no body stream, no abort
 * signal, no async iteration per request (`hookline bench --only client` compares the
 * two; docs/benchmarks.md has the figures).
 */
export function postJson(
  agent: Agent,
  url: string,
  headers: Record<string, string>,
  body: string | Buffer,
  options: {
    timeoutMs: number;
    maxResponseBytes: number;
    extraHeaders?: Record<string, string> | undefined;
    /** Called as the request is written (undici may hold it back for a moment first). */
    onWrite?: (() => void) | undefined;
  },
): Promise<PostResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const failed = (error: string, denied = false): PostResult => ({
    statusCode: null,
    headers: {},
    body: '',
    durationMs: elapsed(),
    error,
    denied,
  });
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve(failed('invalid URL'));
  }
  return new Promise<PostResult>((resolve) => {
    let statusCode = 0;
    let outHeaders: Record<string, string> = {};
    const chunks: Buffer[] = [];
    let size = 0;
    const x: Exchange = {
      controller: null,
      done: false,
      settle(r) {
        if (x.done) return;
        x.done = true;
        deadlines.delete(x);
        resolve(r);
      },
      timedOut() {
        x.settle(failed(`timeout after ${options.timeoutMs} ms`));
        x.controller?.abort(new DOMException('the deadline passed', 'TimeoutError'));
      },
    };
    const answered = () =>
      x.settle({
        statusCode,
        headers: outHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
        durationMs: elapsed(),
        error: null,
        denied: false,
      });
    watchDeadline(x, options.timeoutMs);
    try {
      agent.dispatch(
        {
          origin: target.origin,
          path: target.pathname + target.search,
          method: 'POST',
          // An endpoint's own headers first: the protocol's always win.
          headers: {
            ...options.extraHeaders,
            'content-type': 'application/json',
            'user-agent': 'hookline/0.1',
            ...headers,
          },
          body,
          // undici's own per-phase timeouts only back the deadline up.
          headersTimeout: options.timeoutMs + 1000,
          bodyTimeout: options.timeoutMs + 1000,
        },
        {
          onRequestStart(controller) {
            x.controller = controller;
            // Its deadline passed while it waited for a connection: it never goes out.
            if (x.done) controller.abort(new DOMException('the deadline passed', 'TimeoutError'));
            else options.onWrite?.();
          },
          onResponseStart(_controller, status, resHeaders) {
            if (status < 200) return; // 1xx: the answer is still to come
            statusCode = status;
            outHeaders = {};
            for (const [k, v] of Object.entries(resHeaders)) {
              if (typeof v === 'string') outHeaders[k] = v;
              else if (Array.isArray(v)) outHeaders[k] = v.join(', ');
            }
          },
          onResponseData(controller, chunk) {
            if (x.done) return;
            if (size < options.maxResponseBytes)
              chunks.push(chunk.subarray(0, options.maxResponseBytes - size));
            size += chunk.length;
            if (size >= options.maxResponseBytes) {
              answered(); // enough read: the status and the first bytes are the answer
              controller.abort(new Error('response body limit reached'));
            }
          },
          onResponseEnd() {
            answered();
          },
          onResponseError(_controller, err) {
            if (x.done) return;
            const denied = findCause(err, EgressDeniedError);
            if (denied) x.settle(failed(`egress denied: ${denied.message}`, true));
            else if (isUndiciTimeout(err))
              x.settle(failed(`timeout after ${options.timeoutMs} ms`));
            else x.settle(failed(describeNetworkError(err)));
          },
        },
      );
    } catch (err) {
      x.settle(failed(describeNetworkError(err)));
    }
  });
}

function isUndiciTimeout(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

function findCause<T extends Error>(err: unknown, type: new (...args: never[]) => T): T | null {
  let e: unknown = err;
  for (let i = 0; i < 5 && e; i++) {
    if (e instanceof type) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code;
  const msg = e.cause?.message ?? e.message ?? String(err);
  return code ? `${code}: ${msg}` : msg;
}
