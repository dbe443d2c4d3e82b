import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A local server of exactly the Docker Engine API calls the sidecar makes, on a unix
 * socket, written from the API's documentation (v1.41+) and checked against Podman's
 * compatible service: GET /containers/json (label filter), GET /containers/{id}/json,
 * GET /containers/{id}/logs (follow, stdout, stderr, timestamps, since; multiplexed
 * 8-byte frames unless the container has a TTY), GET /events (JSON per line). With
 * `precision: 'second'` it writes timestamps as Podman does, to the second.
 */
interface Line {
  at: number; // ms
  nanos: number;
  stream: 1 | 2;
  text: string;
}

interface Container {
  id: string;
  name: string;
  labels: Record<string, string>;
  tty: boolean;
  running: boolean;
  lines: Line[];
  followers: Set<{ res: ServerResponse; since: number }>;
}

export async function startDockerApi(options: { precision?: 'nano' | 'second' } = {}) {
  const socketPath = join(tmpdir(), `hookline-docker-${randomBytes(4).toString('hex')}.sock`);
  const containers = new Map<string, Container>();
  const eventListeners = new Set<{ res: ServerResponse; label: string | null }>();
  const requests: string[] = [];
  let nanoCounter = 0;

  const stamp = (l: Line) => {
    const iso = new Date(l.at).toISOString(); // 2026-11-29T01:20:44.836Z
    if (options.precision === 'second') return `${iso.slice(0, 19)}Z`;
    return `${iso.slice(0, 23)}${String(l.nanos).padStart(6, '0')}Z`;
  };

  const frame = (c: Container, l: Line): Buffer => {
    const payload = Buffer.from(`${stamp(l)} ${l.text}${c.tty ? '\r\n' : '\n'}`);
    if (c.tty) return payload;
    const head = Buffer.alloc(8);
    head[0] = l.stream;
    head.writeUInt32BE(payload.length, 4);
    return Buffer.concat([head, payload]);
  };

  const labelMatches = (c: Container, filter: string | null) => {
    if (!filter) return true;
    const [k, v] = filter.split('=');
    return k !== undefined && (v === undefined ? k in c.labels : c.labels[k] === v);
  };

  const emit = (c: Container, action: string) => {
    const e = {
      status: action,
      id: c.id,
      Type: 'container',
      Action: action,
      Actor: { ID: c.id, Attributes: { ...c.labels, name: c.name } },
      time: Math.floor(Date.now() / 1000),
      timeNano: Date.now() * 1e6,
    };
    for (const l of eventListeners)
      if (labelMatches(c, l.label)) l.res.write(`${JSON.stringify(e)}\n`);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://docker');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    const path = url.pathname.replace(/^\/v1\.\d+/, '');
    const filters = JSON.parse(url.searchParams.get('filters') ?? '{}') as { label?: string[] };
    const label = filters.label?.[0] ?? null;
    const notFound = () => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'No such container' }));
    };

    if (req.method === 'GET' && path === '/containers/json') {
      const list = [...containers.values()]
        .filter((c) => c.running && labelMatches(c, label))
        .map((c) => ({ Id: c.id, Names: [`/${c.name}`], Labels: c.labels, State: 'running' }));
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(list));
    }
    if (req.method === 'GET' && path === '/events') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      const l = { res, label };
      eventListeners.add(l);
      req.on('close', () => eventListeners.delete(l));
      return;
    }
    const m = /^\/containers\/([^/]+)\/(json|logs)$/.exec(path);
    const c = m ? containers.get(decodeURIComponent(m[1] as string)) : undefined;
    if (!m || !c) return notFound();
    if (m[2] === 'json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({
          Id: c.id,
          Name: `/${c.name}`,
          Config: { Tty: c.tty, Labels: c.labels },
          State: { Running: c.running, Status: c.running ? 'running' : 'exited' },
        }),
      );
    }
    // logs
    const since = Number(url.searchParams.get('since') ?? '0') * 1000;
    res.writeHead(200, {
      'content-type': c.tty
        ? 'text/plain; charset=utf-8'
        : 'application/vnd.docker.multiplexed-stream',
    });
    for (const l of c.lines) if (l.at >= since) res.write(frame(c, l));
    if (url.searchParams.get('follow') === '1' && c.running) {
      const f = { res, since };
      c.followers.add(f);
      req.on('close', () => c.followers.delete(f));
    } else {
      res.end();
    }
  });
  rmSync(socketPath, { force: true });
  await new Promise<void>((r) => server.listen(socketPath, r));

  return {
    host: `unix://${socketPath}`,
    requests,
    create(opts: { name: string; labels: Record<string, string>; tty?: boolean }): string {
      const id = randomBytes(32).toString('hex');
      containers.set(id, {
        id,
        name: opts.name,
        labels: opts.labels,
        tty: opts.tty ?? false,
        running: false,
        lines: [],
        followers: new Set(),
      });
      return id;
    },
    start(id: string) {
      const c = containers.get(id);
      if (!c) throw new Error('no such container');
      c.running = true;
      emit(c, 'start');
    },
    log(id: string, text: string, stream: 1 | 2 = 1) {
      const c = containers.get(id);
      if (!c) throw new Error('no such container');
      const l: Line = { at: Date.now(), nanos: ++nanoCounter % 1_000_000, stream, text };
      c.lines.push(l);
      for (const f of c.followers) f.res.write(frame(c, l));
    },
    stop(id: string) {
      const c = containers.get(id);
      if (!c) return;
      c.running = false;
      for (const f of c.followers) f.res.end();
      c.followers.clear();
      emit(c, 'die');
    },
    destroy(id: string) {
      const c = containers.get(id);
      if (!c) return;
      if (c.running) this.stop(id);
      containers.delete(id);
      emit(c, 'destroy');
    },
    /** Ends every open stream, as a daemon restart does. */
    dropStreams() {
      for (const c of containers.values()) {
        for (const f of c.followers) f.res.destroy();
        c.followers.clear();
      }
      for (const l of eventListeners) l.res.destroy();
      eventListeners.clear();
    },
    async close() {
      this.dropStreams();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(socketPath, { force: true });
    },
  };
}
export type FakeDocker = Awaited<ReturnType<typeof startDockerApi>>;
