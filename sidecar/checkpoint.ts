import type { JetStreamClient, KV } from 'nats';
import type { Logger } from '../core/logger.js';

/**
 * Checkpoints in a JetStream key-value bucket (`<ns>_sidecar`): where each source resumes.
 * Saves are coalesced: at most one write in flight per key, the newest value wins, and
 * `flush()` waits for the last one.
 */
export async function openCheckpoints(
  js: JetStreamClient,
  namespace: string,
  log: Logger,
  replicas = 1,
) {
  const kv: KV = await js.views.kv(`${namespace}_sidecar`, { history: 1, replicas });
  const pending = new Map<string, unknown>();
  const writing = new Map<string, Promise<void>>();

  async function write(key: string): Promise<void> {
    while (pending.has(key)) {
      const value = pending.get(key);
      pending.delete(key);
      try {
        await kv.put(key, JSON.stringify(value));
      } catch (err) {
        log.warn({ err: String(err), key }, 'checkpoint not saved; will retry');
        if (!pending.has(key)) pending.set(key, value);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    writing.delete(key);
  }

  return {
    async load<T>(key: string): Promise<T | null> {
      const entry = await kv.get(key);
      if (!entry || entry.length === 0) return null;
      try {
        return JSON.parse(entry.string()) as T;
      } catch {
        return null;
      }
    },
    save(key: string, value: unknown): void {
      pending.set(key, value);
      if (!writing.has(key)) writing.set(key, write(key));
    },
    async flush(): Promise<void> {
      while (writing.size > 0) await Promise.all(writing.values());
    },
    async remove(key: string): Promise<void> {
      pending.delete(key);
      await writing.get(key);
      await kv.delete(key);
    },
  };
}
export type Checkpoints = Awaited<ReturnType<typeof openCheckpoints>>;
