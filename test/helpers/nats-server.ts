import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './env.js';

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ port, host: '127.0.0.1' }, () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });
}

/**
 * A NATS server of the test's own, on loopback and a free port, with JetStream in a
 * temporary store: the test can stop it (an outage) and start it again on the same port
 * and store.
 */
export async function startNatsServer() {
  const port = await freePort();
  const store = mkdtempSync(join(tmpdir(), 'hookline-nats-'));
  const bin = process.env.HOOKLINE_TEST_NATS_SERVER ?? 'nats-server';
  let child: ChildProcess | null = null;

  async function up() {
    child = spawn(bin, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], {
      stdio: 'ignore',
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (await answers(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`nats-server did not start on port ${port}`);
  }

  async function down() {
    const c = child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  }

  await up();
  return {
    url: `nats://127.0.0.1:${port}`,
    stop: down,
    start: up,
    async close() {
      await down();
      rmSync(store, { recursive: true, force: true });
    },
  };
}
