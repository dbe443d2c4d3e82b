// Finds a MongoDB-wire server, or builds and starts FerretDB (MongoDB wire protocol on
// SQLite) when none answers. Used by `npm test` and `npm start`; plain JavaScript so it
// runs before anything is compiled.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { untilAnswering } from './child.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const FERRETDB_SRC = join(root, 'test', 'ferretdb');
const FERRETDB_BIN = join(root, '.cache', 'ferretdb', 'ferretdb');

export async function answers(url, timeoutMs = 1500) {
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
  });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => {});
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function portFree(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export function findGo() {
  for (const candidate of ['go', '/usr/local/go/bin/go']) {
    const r = spawnSync(candidate, ['version'], { encoding: 'utf8' });
    if (r.status === 0) return candidate;
  }
  return null;
}

/** Builds FerretDB once into .cache/ferretdb (about a minute the first time). */
export function buildFerretDB(log = console.error) {
  if (existsSync(FERRETDB_BIN)) {
    const built = statSync(FERRETDB_BIN).mtimeMs;
    const sources = readdirSync(FERRETDB_SRC)
      .filter((f) => f.endsWith('.go') || f === 'go.mod' || f === 'go.sum')
      .map((f) => statSync(join(FERRETDB_SRC, f)).mtimeMs);
    if (sources.every((t) => t < built)) return FERRETDB_BIN;
  }
  const go = findGo();
  if (!go) {
    throw new Error(
      'No MongoDB answers and Go is not installed to build FerretDB. Start MongoDB and set HOOKLINE_MONGODB_URL, or install Go (https://go.dev/dl/).',
    );
  }
  mkdirSync(dirname(FERRETDB_BIN), { recursive: true });
  log(
    'hookline: building FerretDB v1.24.2 (a MongoDB-compatible server on SQLite) into .cache/ferretdb …',
  );
  const r = spawnSync(go, ['build', '-o', FERRETDB_BIN, '.'], {
    cwd: FERRETDB_SRC,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
  });
  if (r.status !== 0) throw new Error('building FerretDB failed (see the Go output above)');
  return FERRETDB_BIN;
}

/**
 * Starts FerretDB on a free port with its data in `dir`. Resolves once it accepts
 * connections; `stop()` ends it.
 */
export async function startFerretDB({ dir, port, log = console.error } = {}) {
  const bin = buildFerretDB(log);
  const dataDir = dir ?? mkdtempSync(join(tmpdir(), 'hookline-ferretdb-'));
  const listenPort = port ?? (await freePort());
  const child = spawn(bin, ['-listen', `127.0.0.1:${listenPort}`, '-dir', dataDir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `mongodb://127.0.0.1:${listenPort}`;
  const stop = await untilAnswering(child, () => answers(`${url}/hookline`, 500), {
    what: 'FerretDB',
    timeoutMs: 30_000,
    intervalMs: 200,
  });
  return { url, dataDir, child, stop };
}

/** Strips the database from a MongoDB URL: `mongodb://h:p/db?x` → `mongodb://h:p`, `?x`. */
export function splitMongoUrl(url) {
  const m = /^(mongodb(?:\+srv)?:\/\/[^/?]+)\/?([^?]*)(\?.*)?$/.exec(url);
  if (!m) throw new Error(`not a MongoDB URL: ${url}`);
  return { base: m[1], db: m[2], query: m[3] ?? '' };
}
