/**
 * The Book Server of the go-hook story, unchanged but for its logs: it creates and deletes
 * books over HTTP and logs a tagged line for each (pino, with hookline's helper). It knows
 * nothing of webhooks; the sidecar turns those lines into events.
 *
 *   node dist/demo/book-server.js [--port 3000] [--log-file PATH]
 *   POST /books {"title","author"} · DELETE /books/:id · GET /books
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { hooklineEvent } from '../sidecar/tag.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '3000' },
    host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' },
    'log-file': { type: 'string' },
  },
});
const logFile = values['log-file'];
const logger = pino(
  logFile ? pino.destination({ dest: logFile, sync: true, mkdir: true }) : undefined,
);

interface Book {
  id: number;
  title: string;
  author: string;
}
const books = new Map<number, Book>();
let nextId = 1;

function send(res: import('node:http').ServerResponse, status: number, body?: unknown) {
  res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

const server = createServer((req, res) => {
  let raw = '';
  req.on('data', (c: Buffer) => {
    raw += c;
    if (raw.length > 64 * 1024) req.destroy();
  });
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://books');
    if (req.method === 'GET' && url.pathname === '/books')
      return send(res, 200, [...books.values()]);
    if (req.method === 'POST' && url.pathname === '/books') {
      let input: Partial<Book>;
      try {
        input = JSON.parse(raw || '{}') as Partial<Book>;
      } catch {
        return send(res, 400, { error: 'the body is not JSON' });
      }
      if (typeof input.title !== 'string' || input.title === '')
        return send(res, 422, { error: 'title is required' });
      const book: Book = { id: nextId++, title: input.title, author: String(input.author ?? '') };
      books.set(book.id, book);
      logger.info(hooklineEvent('book.created', book), 'book created');
      return send(res, 201, book);
    }
    const m = /^\/books\/(\d+)$/.exec(url.pathname);
    if (req.method === 'DELETE' && m) {
      const book = books.get(Number(m[1]));
      if (!book) return send(res, 404, { error: 'no such book' });
      books.delete(book.id);
      logger.info(hooklineEvent('book.deleted', { id: book.id }), 'book deleted');
      return send(res, 204);
    }
    logger.info({ method: req.method, path: url.pathname }, 'not found');
    send(res, 404, { error: 'not found' });
  });
});

server.listen(Number(values.port), values.host, () => {
  logger.info({ port: Number(values.port) }, 'book server listening');
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
