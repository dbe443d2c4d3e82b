/**
 * How a connection ends after its request's body was refused as too large (413).
 *
 * fastify refuses a body over HOOKLINE_MAX_BODY_BYTES from its Content-Length before reading
 * any of it, or, for a chunked body, on the chunk that crosses the limit. It answers with
 * `connection: close`, and Node's http server ends such a response with
 * `socket.destroySoon()`: the socket is destroyed as soon as the answer is flushed, while the
 * client may still be sending. The kernel then resets the connection over the unread bytes,
 * and a client that writes its whole request before reading (Go's net/http, many SDKs) gets
 * "broken pipe" or "connection reset" instead of the 413; a reset can even discard an
 * answer that a reading client had not read yet.
 *
 * So the close lingers, as RFC 9112 §9.6 advises: after the answer, the registry half-closes
 * (FIN), reads and drops the rest of the body, and closes once the body has ended. It does
 * so within a bound: at most DRAIN_FACTOR × the limit of body in all, for at most
 * DRAIN_DEADLINE_MS after the answer; past either, it closes. A Content-Length beyond the
 * bound is drained like any other body up to the bound: the client that reads while it
 * writes then has its 413 before the close, and one that does not is cut off either way.
 *
 * This module owns that drain, and only that. It is reached from the error handler for a
 * refused body alone: a request within the limit never meets it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** The most body, in multiples of the limit, read from a refused request before closing. */
export const DRAIN_FACTOR = 8;
/** How long after the 413 the rest of a refused body may take to arrive. */
export const DRAIN_DEADLINE_MS = 5_000;

export interface BodyDrain {
  /** For a request whose body fastify refused as too large, before its 413 is sent. */
  afterRefusal(req: IncomingMessage, res: ServerResponse): void;
  /** Closes every connection still draining (the registry is closing). */
  close(): void;
}

/**
 * `_last` is how Node's http server knows that a response ends its connection; once the
 * response has finished it destroys the socket when `_last` is set. It is not public API,
 * but it is the one switch between "close now" and "keep the socket": clearing it just
 * before the server looks (a `finish` listener placed first) hands the socket to the drain
 * while the wire still says `connection: close`. Should a Node version drop the field,
 * the assignment does nothing and the connection closes at once as before (the e2e test in
 * test/e2e/bodylimit.test.ts would say so).
 */
type ClosingResponse = ServerResponse & { _last?: boolean };

export function createBodyDrain(limit: number): BodyDrain {
  const bound = DRAIN_FACTOR * limit;
  const draining = new Set<Socket>();

  return {
    afterRefusal(req, res) {
      const socket = req.socket;
      // Refused on its Content-Length, nothing of the body has been read; refused while
      // streaming, about the limit's worth has (and was dropped).
      let budget = req.headers['content-length'] === undefined ? bound - limit : bound;
      let lingering = false;
      let timer: NodeJS.Timeout | undefined;
      const cutOff = () => {
        clearTimeout(timer);
        draining.delete(socket);
        socket.destroy();
      };
      // Read from now on, so that the server does not dump the body itself (a dumped body
      // is dropped before it is counted).
      req.on('data', (chunk: Buffer) => {
        budget -= chunk.length;
        if (budget < 0 && lingering) cutOff();
      });
      // The body has ended (or the client has gone): nothing is left to wait for.
      const ended = () => {
        if (lingering) cutOff();
      };
      req.once('end', ended);
      req.once('error', ended);
      // Runs before the server's own `finish` listener, which destroys the socket of a
      // response that closes the connection.
      res.prependOnceListener('finish', () => {
        // Nothing left unread (a clean close), or already too much: let it close now.
        if (req.complete || budget < 0 || socket.destroyed) return;
        (res as ClosingResponse)._last = false;
        lingering = true;
      });
      // Runs after it, once the server has let go of the socket.
      res.once('finish', () => {
        if (!lingering || socket.destroyed) return;
        draining.add(socket);
        socket.once('close', () => {
          clearTimeout(timer);
          draining.delete(socket);
        });
        timer = setTimeout(cutOff, DRAIN_DEADLINE_MS);
        // The answer is out; the FIN says that nothing else will come. The server's sockets
        // are half-open, so the rest of the body is still read.
        socket.end();
      });
    },
    close() {
      for (const socket of draining) socket.destroy();
      draining.clear();
    },
  };
}
