import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { freePort } from './env.js';

const BIN = join(import.meta.dirname, '..', '..', '.cache', 'ferretdb', 'ferretdb');

/**
 * A FerretDB of the test's own (the binary `npm test` built), on a fixed loopback port
 * and data directory, so that a test can SIGKILL it (an outage) and start it again with
 * the same data.
 */
export async function startOwnFerretDB() {
  if (!existsSync(BIN)) throw new Error(`no FerretDB at ${BIN}: run the tests with \`npm test\``);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'hookline-ferretdb-own-'));
  const url = `mongodb://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;

  async function up() {
    child = spawn(BIN, ['-listen', `127.0.0.1:${port}`, '-dir', dir], { stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const client = new MongoClient(`${url}/ping`, { serverSelectionTimeoutMS: 300 });
      try {
        await client.connect();
        await client.db().command({ ping: 1 });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        await client.close().catch(() => undefined);
      }
    }
    throw new Error(`FerretDB did not answer on port ${port}`);
  }

  async function down() {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  }

  await up();
  return {
    url,
    /** SIGKILLs it. */
    kill: down,
    start: up,
    async close() {
      await down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
