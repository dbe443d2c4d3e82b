// Finds nats-server v2.15.2, or builds it: HOOKLINE_TEST_NATS_SERVER, else
// .cache/nats/nats-server, built there with Go from the module proxy when missing. Used by
// `npm test` (before any test starts, so that a build does not count against a test's
// time), by test/helpers/nats-cluster.ts, and by `npm start`, which starts one with
// JetStream when no NATS server answers. Plain JavaScript, like mongo.mjs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { untilAnswering } from './child.mjs';
import { findGo } from './mongo.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const NATS_SERVER_VERSION = 'v2.15.2';
const CACHED = join(root, '.cache', 'nats', 'nats-server');

/** The binary's path; builds it (a minute or two, once per checkout) when it is missing. */
export function natsServerBinary(log = console.error) {
  const given = process.env.HOOKLINE_TEST_NATS_SERVER;
  if (given) return given;
  if (existsSync(CACHED)) return CACHED;
  const go = findGo();
  if (!go) {
    throw new Error(
      `nats-server ${NATS_SERVER_VERSION} is needed: start one with JetStream and set HOOKLINE_NATS_URL (or HOOKLINE_TEST_NATS_SERVER for the tests), or install Go (https://go.dev/dl/) to build it into .cache/nats.`,
    );
  }
  mkdirSync(dirname(CACHED), { recursive: true });
  log(`hookline: building nats-server ${NATS_SERVER_VERSION} into .cache/nats (once) …`);
  const r = spawnSync(go, ['install', `github.com/nats-io/nats-server/v2@${NATS_SERVER_VERSION}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOBIN: dirname(CACHED) },
  });
  if (r.status !== 0 || !existsSync(CACHED))
    throw new Error('building nats-server failed (see the Go output above)');
  return CACHED;
}

/** The host and port of the first server of a HOOKLINE_NATS_URL value. */
export function natsAddress(urls) {
  const first = urls.split(',')[0].trim();
  const u = new URL(first.includes('://') ? first : `nats://${first}`);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 4222) };
}

/** Whether a NATS server answers there (it says INFO as soon as one connects). */
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

/**
 * Starts nats-server with JetStream on `host:port`, its store in `storeDir` (building the
 * server first when needed). Resolves once it answers; `stop()` ends it.
 */
export async function startNats({ host, port, storeDir, log = console.error }) {
  const bin = natsServerBinary(log);
  mkdirSync(storeDir, { recursive: true });
  const child = spawn(bin, ['-a', host, '-p', String(port), '-js', '-sd', storeDir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = await untilAnswering(child, () => natsAnswers({ host, port }, 500), {
    what: `nats-server on ${host}:${port}`,
    timeoutMs: 20_000,
    intervalMs: 100,
  });
  return { url: `nats://${host}:${port}`, stop };
}
