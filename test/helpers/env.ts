import { randomBytes } from 'node:crypto';
import { connect } from 'nats';
import { MongoClient } from 'mongodb';
import { deleteNamespaceStreams } from '../../core/nats.js';

export const NATS_URL = process.env.HOOKLINE_NATS_URL ?? 'nats://127.0.0.1:4222';

function mongoBase(): string {
  const base = process.env.HOOKLINE_TEST_MONGODB_URL;
  if (!base) throw new Error('HOOKLINE_TEST_MONGODB_URL is not set: run the tests with `npm test`');
  return base.replace(/\/+$/, '');
}

/** A namespace and database of its own for one test: nothing it does is seen by another. */
export function isolation(label: string) {
  const id = `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}_${label.replace(/[^A-Za-z0-9]/g, '').slice(0, 16)}`;
  return {
    namespace: id,
    mongodbUrl: `${mongoBase()}/${id}`,
    /** Deletes the namespace's streams and drops its database. */
    async cleanup(): Promise<void> {
      const nc = await connect({ servers: NATS_URL });
      try {
        await deleteNamespaceStreams(await nc.jetstreamManager(), id);
      } finally {
        await nc.close();
      }
      const client = new MongoClient(`${mongoBase()}/${id}`);
      try {
        await client.connect();
        await client.db().dropDatabase();
      } finally {
        await client.close();
      }
    },
  };
}

/** Waits for `check` to return a truthy value, polling; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`,
  );
}

/** A TCP port on 127.0.0.1 that nothing listens on now (for a process restarted on it). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
