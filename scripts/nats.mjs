// Finds the nats-server the cluster test runs, or builds it: HOOKLINE_TEST_NATS_SERVER,
// else .cache/nats/nats-server, built there with Go from the module proxy when missing.
// Used by `npm test` (before any test starts, so that a build does not count against a
// test's time) and by test/helpers/nats-cluster.ts. Plain JavaScript, like mongo.mjs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findGo } from './mongo.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const NATS_SERVER_VERSION = 'v2.15.2';
const CACHED = join(root, '.cache', 'nats', 'nats-server');

/** The binary's path; builds it (about a minute, once per checkout) when it is missing. */
export function natsServerBinary(log = console.error) {
  const given = process.env.HOOKLINE_TEST_NATS_SERVER;
  if (given) return given;
  if (existsSync(CACHED)) return CACHED;
  const go = findGo();
  if (!go) {
    throw new Error(
      `The cluster test needs nats-server ${NATS_SERVER_VERSION}: set HOOKLINE_TEST_NATS_SERVER, or install Go (https://go.dev/dl/) to build it into .cache/nats.`,
    );
  }
  mkdirSync(dirname(CACHED), { recursive: true });
  log(`hookline: building nats-server ${NATS_SERVER_VERSION} into .cache/nats …`);
  const r = spawnSync(go, ['install', `github.com/nats-io/nats-server/v2@${NATS_SERVER_VERSION}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOBIN: dirname(CACHED) },
  });
  if (r.status !== 0 || !existsSync(CACHED))
    throw new Error('building nats-server failed (see the Go output above)');
  return CACHED;
}
