import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { DRAIN_DEADLINE_MS, DRAIN_FACTOR } from '../../registry/body-limit.js';
import { ADMIN, startTestHookline, type TestHookline } from '../helpers/hookline.js';

// A body over HOOKLINE_MAX_BODY_BYTES, sent on a raw socket by clients that behave like Go's
// net/http and many SDKs: they write the whole request before they read the answer. The
// registry answers 413 at once and reads (and drops) the rest of the body, up to a bound, so
// that such a client is not cut off mid-write and gets its JSON error.

let h: TestHookline;
let limit: number;
/** The registry's port (a restart moves it). */
const port = () => Number(new URL(h.url).port);
const TOPIC = 'bodylimit.topic';

before(async () => {
  h = await startTestHookline('bodylimit');
  limit = h.config.maxBodyBytes;
  assert.equal((await h.api('POST', '/v1/topics', { name: TOPIC })).status, 201);
});
after(async () => {
  await h?.close();
});

const PIECE = 64 * 1024;

/** `size` bytes of a JSON publish body, in pieces of PIECE bytes (the data is padding). */
function* jsonBody(size: number): Generator<Buffer> {
  const open = Buffer.from(`{"topic":"${TOPIC}","data":"`);
  const close = Buffer.from('"}');
  const whole = Buffer.alloc(size, 'x');
  open.copy(whole, 0);
  close.copy(whole, size - close.length);
  for (let at = 0; at < size; at += PIECE) yield whole.subarray(at, Math.min(size, at + PIECE));
}

/** The same bytes in pieces of `size` bytes. */
function* slices(pieces: Iterable<Buffer>, size: number): Generator<Buffer> {
  for (const p of pieces) {
    for (let at = 0; at < p.length; at += size) yield p.subarray(at, at + size);
  }
}

/** The same pieces as chunks of `Transfer-Encoding: chunked`, then the last chunk. */
function* chunked(pieces: Iterable<Buffer>): Generator<Buffer> {
  for (const p of pieces) {
    yield Buffer.concat([Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n')]);
  }
  yield Buffer.from('0\r\n\r\n');
}

function head(framing: { contentLength: number } | 'chunked'): string {
  return (
    'POST /v1/messages HTTP/1.1\r\n' +
    `host: 127.0.0.1:${port()}\r\n` +
    `authorization: Bearer ${ADMIN}\r\n` +
    'content-type: application/json\r\n' +
    (framing === 'chunked'
      ? 'transfer-encoding: chunked\r\n'
      : `content-length: ${framing.contentLength}\r\n`) +
    '\r\n'
  );
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary API JSON
  json: any;
}

interface Exchange {
  /** The registry's answer, if one could be read. */
  answer: Answer | null;
  /** How the first failed write failed (EPIPE, ECONNRESET), if one did. */
  writeError: string | null;
  /** Body bytes handed to the socket. */
  wrote: number;
  /** Milliseconds from the first byte of the answer to the failed write, if one failed. */
  cutOffAfterAnswerMs: number | null;
}

/**
 * One request on a raw socket. `readWhileWriting: false` is the client this file is about:
 * it reads nothing until every piece is written. Loopback's buffers would swallow megabytes
 * before the registry has even answered, so the pieces are paced (`paceMs` between them),
 * as on any real network where the upload outlasts the registry's answer; without pacing
 * the client would finish writing before the registry could close on it. The socket is
 * half-open: like a client that does not look, it goes on sending after the registry's FIN
 * until the registry cuts it off or the body is all sent.
 */
function exchange(
  request: string,
  pieces: Iterable<Buffer>,
  options: {
    readWhileWriting: boolean;
    paceMs?: number | ((wrote: number) => number);
    onAnswer?: () => void;
  },
): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: port(), allowHalfOpen: true });
    const received: Buffer[] = [];
    let answeredAt: number | null = null;
    let failedAt: number | null = null;
    let writeError: string | null = null;
    let wrote = 0;
    let written = false;
    let ended = false;
    const read = () => {
      socket.on('data', (c: Buffer) => {
        if (answeredAt === null) {
          answeredAt = Date.now();
          options.onAnswer?.();
        }
        received.push(c);
      });
      socket.resume();
    };
    if (options.readWhileWriting) read();
    else socket.pause();
    // Once the registry has closed its side and the client has nothing more to send.
    const finish = () => {
      if (written && ended) socket.end();
    };
    socket.on('end', () => {
      ended = true;
      finish();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      failedAt ??= Date.now();
      writeError ??= err.code ?? err.message;
    });
    const guard = setTimeout(() => socket.destroy(), 30_000);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve({
        answer: parseAnswer(Buffer.concat(received)),
        writeError,
        wrote,
        cutOffAfterAnswerMs:
          answeredAt === null || failedAt === null ? null : failedAt - answeredAt,
      });
    });
    const it = pieces[Symbol.iterator]();
    const writeNext = () => {
      if (socket.destroyed) return;
      const next = it.next();
      if (next.done) {
        written = true;
        if (!options.readWhileWriting) read();
        finish();
        return;
      }
      wrote += next.value.length;
      socket.write(next.value, (err) => {
        if (err) return; // reported by 'error'; the socket is destroyed
        const pace = typeof options.paceMs === 'function' ? options.paceMs(wrote) : options.paceMs;
        if (pace) setTimeout(writeNext, pace);
        else setImmediate(writeNext);
      });
    };
    socket.write(request, () => writeNext());
  });
}

function parseAnswer(raw: Buffer): Answer | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length']);
  const body = raw.subarray(end + 4, end + 4 + length).toString('utf8');
  let json: unknown = null;
  try {
    json = JSON.parse(body);
  } catch {
    // not JSON: the assertions say so
  }
  return { status, headers, json };
}

function assertTooLarge(x: Exchange) {
  assert.equal(x.writeError, null, `the client could write its whole request (${x.writeError})`);
  assert.ok(x.answer, 'the client read an answer');
  assert.equal(x.answer.status, 413);
  assert.equal(x.answer.headers.connection, 'close');
  assert.match(x.answer.headers['content-type'] ?? '', /^application\/json/);
  assert.equal(x.answer.json?.error?.code, 'payload_too_large');
  assert.ok(String(x.answer.json?.error?.message).length > 5, 'a message a person understands');
  assert.match(String(x.answer.json?.error?.request_id), /^req_/);
}

const stored = async () => (await h.api('GET', '/v1/messages?limit=1000')).body.data.length;

test('a client that writes a whole 2 MiB body before reading gets the 413', async () => {
  const before = await stored();
  const size = 2 * 1024 * 1024;
  const x = await exchange(head({ contentLength: size }), jsonBody(size), {
    readWhileWriting: false,
    paceMs: 5,
  });
  assertTooLarge(x);
  assert.equal(x.wrote, size);
  assert.equal(await stored(), before, 'nothing stored or published');
});

test('a chunked 2 MiB body that crosses the limit while streaming gets the 413', async () => {
  const before = await stored();
  const size = 2 * 1024 * 1024;
  const x = await exchange(head('chunked'), chunked(jsonBody(size)), {
    readWhileWriting: false,
    paceMs: 5,
  });
  assertTooLarge(x);
  assert.equal(await stored(), before, 'nothing stored or published');
});

test('a body just under the bound is read to its end, and gets the 413', async () => {
  const size = DRAIN_FACTOR * limit - PIECE;
  const x = await exchange(head({ contentLength: size }), jsonBody(size), {
    readWhileWriting: false,
  });
  assertTooLarge(x);
  assert.equal(x.wrote, size);
});

test('beyond the bound the connection is closed, and the registry carries on', async () => {
  const bound = DRAIN_FACTOR * limit;
  // Streamed: the 413 comes when the limit is crossed, the close once the bound is.
  // Loopback's buffers hold some megabytes that the registry never reads, so the cap on
  // what the client may write before it sees the close is generous.
  const cap = bound + 64 * 1024 * 1024;
  function* endless(): Generator<Buffer> {
    for (let sent = 0; sent < cap; sent += PIECE) yield Buffer.alloc(PIECE, 'x');
  }
  const streamed = await exchange(head('chunked'), chunked(endless()), { readWhileWriting: true });
  assert.equal(streamed.answer?.status, 413);
  assert.equal(streamed.answer?.json?.error?.code, 'payload_too_large');
  assert.ok(streamed.writeError, 'the client was cut off');
  assert.ok(streamed.wrote < cap, `closed after ${streamed.wrote} bytes`);

  // Announced: a Content-Length beyond the bound is answered at once, and cut off at the
  // bound like any other.
  const announced = await exchange(head({ contentLength: cap }), endless(), {
    readWhileWriting: true,
  });
  assert.equal(announced.answer?.status, 413);
  assert.equal(announced.answer?.json?.error?.code, 'payload_too_large');
  assert.ok(announced.writeError, 'the client was cut off');
  assert.ok(announced.wrote < cap, `closed after ${announced.wrote} bytes`);

  const ok = await h.api('POST', '/v1/messages', { topic: TOPIC, data: { after: 'the close' } });
  assert.equal(ok.status, 202, JSON.stringify(ok.body));
});

test('a client that sends too slowly is cut off at the deadline', async () => {
  const size = 2 * 1024 * 1024;
  // The first half at once; then 4 KiB every 100 ms, which would take over 25 s.
  const x = await exchange(head({ contentLength: size }), slices(jsonBody(size), 4096), {
    readWhileWriting: true,
    paceMs: (wrote) => (wrote < size / 2 ? 0 : 100),
  });
  assert.equal(x.answer?.status, 413);
  assert.ok(x.writeError, 'the client was cut off');
  assert.ok(x.cutOffAfterAnswerMs !== null);
  assert.ok(
    x.cutOffAfterAnswerMs >= DRAIN_DEADLINE_MS - 1000 &&
      x.cutOffAfterAnswerMs <= DRAIN_DEADLINE_MS + 3000,
    `cut off ${x.cutOffAfterAnswerMs} ms after the answer`,
  );
  assert.equal((await h.api('GET', '/v1/topics')).status, 200);
});

test('closing the registry cuts a drain off at once', async () => {
  const size = 2 * 1024 * 1024;
  let answered: () => void = () => {};
  const answer = new Promise<void>((resolve) => {
    answered = resolve;
  });
  const slow = exchange(head({ contentLength: size }), slices(jsonBody(size), 4096), {
    readWhileWriting: true,
    paceMs: (wrote) => (wrote < size / 2 ? 0 : 100),
    onAnswer: () => answered(),
  });
  await answer;
  const closing = Date.now();
  await h.restart();
  const x = await slow;
  assert.equal(x.answer?.status, 413);
  assert.ok(x.writeError, 'the client was cut off');
  const tookMs = Date.now() - closing;
  assert.ok(tookMs < DRAIN_DEADLINE_MS, `the drain held the close up for ${tookMs} ms`);
});
