import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { after, test } from 'node:test';
import { freePort, isolation } from '../helpers/env.js';

// `npm start` on a machine where no NATS server runs: it starts nats-server v2.15.2 with
// JetStream of its own (building it with Go first when .cache/nats has none; `npm test`
// builds it before the tests start), runs the whole demo on it, and stops it at the end.

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

test('npm start where no NATS server answers builds nats-server v2.15.2 and runs the demo on it', {
  timeout: 600_000,
}, async () => {
  const iso = isolation('demonats');
  cleanups.push(() => iso.cleanup());
  const port = await freePort();
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['scripts/up.mjs', '--once'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...(process.env.GOPATH ? { GOPATH: process.env.GOPATH } : {}),
      ...(process.env.GOMODCACHE ? { GOMODCACHE: process.env.GOMODCACHE } : {}),
      HOOKLINE_MONGODB_URL: iso.mongodbUrl,
      HOOKLINE_NAMESPACE: iso.namespace,
      HOOKLINE_NATS_URL: `nats://127.0.0.1:${port}`,
      HOOKLINE_ADDR: '127.0.0.1:0',
      HOOKLINE_ADMIN_TOKEN: 'demo-admin',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  cleanups.push(async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, out);
  assert.match(out, /starting nats-server v2\.15\.2 with JetStream/);
  assert.match(out, /delivery +dlv_\S+ +succeeded, 1 attempt/);
  assert.match(out, /^console +http:\/\/\S+/m);
  // The server it started is gone with it.
  assert.equal(await answers(port), false);
});

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ port, host: '127.0.0.1' }, () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });
}
