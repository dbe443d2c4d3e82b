// Finds a NATS server with JetStream, or builds and starts one when none answers. Used by
// `npm start`, like scripts/mongo.mjs for MongoDB; plain JavaScript, so it runs before
// anything is compiled.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findGo } from './mongo.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const NATS_VERSION = 'v2.15.2';
const NATS_DIR = join(root, '.cache', 'nats');
const NATS_BIN = join(NATS_DIR, 'nats-server');

/** The host and port of the first server of a HOOKLINE_NATS_URL value. */
export function natsAddress(urls) {
  const first = urls.split(',')[0].trim();
  const u = new URL(first.includes('://') ? first : `nats://${first}`);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 4222) };
}

/** Whether something accepts TCP connections there (a NATS server says INFO at once). */
export function natsAnswers({ host, port }, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('data', (d) => done(d.toString().startsWith('INFO')));
    s.once('error', () => done(false));
  });
}

/** Builds nats-server into .cache/nats with the Go toolchain, once (a minute or two). */
export function buildNats(log = console.error) {
  if (existsSync(NATS_BIN)) return NATS_BIN;
  const go = findGo();
  if (!go) {
    throw new Error(
      'No NATS server answers and Go is not installed to build one. Start nats-server -js and set HOOKLINE_NATS_URL, or install Go (https://go.dev/dl/).',
    );
  }
  mkdirSync(NATS_DIR, { recursive: true });
  log(`hookline: building nats-server ${NATS_VERSION} into .cache/nats (once, a minute or two) …`);
  const r = spawnSync(go, ['install', `github.com/nats-io/nats-server/v2@${NATS_VERSION}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOBIN: NATS_DIR, CGO_ENABLED: '0' },
  });
  if (r.status !== 0 || !existsSync(NATS_BIN))
    throw new Error('building nats-server failed (see the Go output above)');
  return NATS_BIN;
}

/**
 * Starts nats-server with JetStream on `host:port`, its store in `storeDir`. Resolves once
 * it answers; `stop()` ends it.
 */
export async function startNats({ host, port, storeDir, log = console.error }) {
  const bin = buildNats(log);
  mkdirSync(storeDir, { recursive: true });
  const child = spawn(bin, ['-a', host, '-p', String(port), '-js', '-sd', storeDir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with code ${child.exitCode}`);
    if (await natsAnswers({ host, port }, 500)) {
      return {
        url: `nats://${host}:${port}`,
        stop: () =>
          new Promise((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 3000).unref();
          }),
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`nats-server did not answer on ${host}:${port} within 20 s`);
}
