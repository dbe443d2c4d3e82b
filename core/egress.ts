import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector, request } from 'undici';
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

/**
 * The deadlines of requests in flight, checked by one timer every 100 ms while there are
 * any: `AbortSignal.timeout` sets a timer per request and tracks its signal with a weak
 * reference, work for the garbage collector at thousands of requests a second.
 */
const DEADLINE_TICK_MS = 100;
const deadlines = new Map<AbortController, number>();
let deadlineTimer: NodeJS.Timeout | null = null;

function withDeadline(timeoutMs: number): AbortController {
  const c = new AbortController();
  deadlines.set(c, performance.now() + timeoutMs);
  if (!deadlineTimer) {
    deadlineTimer = setInterval(() => {
      const now = performance.now();
      for (const [ctl, at] of deadlines) {
        if (at > now) continue;
        deadlines.delete(ctl);
        ctl.abort(new DOMException('the deadline passed', 'TimeoutError'));
      }
      if (deadlines.size === 0 && deadlineTimer) {
        clearInterval(deadlineTimer);
        deadlineTimer = null;
      }
    }, DEADLINE_TICK_MS);
    deadlineTimer.unref();
  }
  return c;
}

/**
 * POSTs a body and reports what happened; never throws. Redirects are not followed
 * (undici's request has no redirect handling unless asked), the whole exchange has a
 * deadline, and only the first `maxResponseBytes` of the answer are kept: the rest is
 * discarded so a hostile receiver cannot make us buffer without limit.
 */
export async function postJson(
  agent: Agent,
  url: string,
  headers: Record<string, string>,
  body: string | Buffer,
  options: {
    timeoutMs: number;
    maxResponseBytes: number;
    extraHeaders?: Record<string, string> | undefined;
  },
): Promise<PostResult> {
  const started = performance.now();
  const deadline = withDeadline(options.timeoutMs);
  const { signal } = deadline;
  try {
    const res = await request(url, {
      method: 'POST',
      dispatcher: agent,
      // An endpoint's own headers first: the protocol's always win.
      headers: {
        ...options.extraHeaders,
        'content-type': 'application/json',
        'user-agent': 'hookline/0.1',
        ...headers,
      },
      body,
      signal,
      // undici's own per-phase timeouts only back the deadline up.
      headersTimeout: options.timeoutMs + 1000,
      bodyTimeout: options.timeoutMs + 1000,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (size < options.maxResponseBytes) {
        chunks.push(chunk.subarray(0, options.maxResponseBytes - size));
      }
      size += chunk.length;
      if (size >= options.maxResponseBytes) {
        res.body.destroy();
        break;
      }
    }
    const outHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) {
      if (typeof v === 'string') outHeaders[k] = v;
      else if (Array.isArray(v)) outHeaders[k] = v.join(', ');
    }
    return {
      statusCode: res.statusCode,
      headers: outHeaders,
      body: Buffer.concat(chunks).toString('utf8'),
      durationMs: Math.round(performance.now() - started),
      error: null,
      denied: false,
    };
  } catch (err) {
    const denied = findCause(err, EgressDeniedError);
    let message: string;
    if (denied) message = `egress denied: ${denied.message}`;
    else if (signal.aborted || isUndiciTimeout(err))
      message = `timeout after ${options.timeoutMs} ms`;
    else message = describeNetworkError(err);
    return {
      statusCode: null,
      headers: {},
      body: '',
      durationMs: Math.round(performance.now() - started),
      error: message,
      denied: denied !== null,
    };
  } finally {
    deadlines.delete(deadline);
  }
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
