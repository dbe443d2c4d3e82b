import type { JetStreamClient, KV, KvEntry } from 'nats';
import { createRequire } from 'node:module';
import {
  RateLimiterRes,
  type RateLimiterStoreAbstract as StoreAbstract,
} from 'rate-limiter-flexible';

// The package declares its store base class in its types but does not export it from its
// entry point; its file is the documented way to write a store of one's own.
const RateLimiterStoreAbstract = createRequire(import.meta.url)(
  'rate-limiter-flexible/lib/RateLimiterStoreAbstract.js',
) as typeof StoreAbstract;

interface Window {
  points: number;
  expiresAt: number;
}

/**
 * A rate-limiter-flexible store on a JetStream key-value bucket, so an endpoint's
 * `rate_limit` holds across every dispatcher on the namespace. Increments are
 * compare-and-set on the key's revision, retried on a conflict: atomic without a lock.
 */
class NatsKvStore extends RateLimiterStoreAbstract {
  constructor(
    private readonly kv: KV,
    opts: { points: number; duration: number; keyPrefix: string },
  ) {
    // Over the limit, a dispatcher stops asking the store for the rest of the window.
    super({
      ...opts,
      storeClient: kv,
      inMemoryBlockOnConsumed: opts.points + 1,
      inMemoryBlockDuration: opts.duration,
    });
  }

  private static key(rlKey: string): string {
    return rlKey.replace(/[^-/_=.a-zA-Z0-9]/g, '_');
  }

  private static read(entry: KvEntry | null): Window | null {
    if (entry?.operation !== 'PUT' || entry.length === 0) return null;
    try {
      return JSON.parse(entry.string()) as Window;
    } catch {
      return null;
    }
  }

  async _upsert(
    rlKey: string,
    points: number,
    msDuration: number,
    forceExpire = false,
  ): Promise<Window> {
    const key = NatsKvStore.key(rlKey);
    for (let attempt = 0; attempt < 20; attempt++) {
      const now = Date.now();
      const entry = await this.kv.get(key);
      const current = NatsKvStore.read(entry);
      const next: Window =
        !current || forceExpire || current.expiresAt <= now
          ? { points, expiresAt: now + msDuration }
          : { points: current.points + points, expiresAt: current.expiresAt };
      try {
        if (entry) await this.kv.update(key, JSON.stringify(next), entry.revision);
        else await this.kv.create(key, JSON.stringify(next));
        return next;
      } catch (err) {
        if (!/wrong last sequence|exists/i.test(String(err))) throw err;
        // Another dispatcher changed the window first: read it again.
      }
    }
    throw new Error(`rate limit store: too much contention on ${key}`);
  }

  async _get(rlKey: string): Promise<Window | null> {
    const w = NatsKvStore.read(await this.kv.get(NatsKvStore.key(rlKey)));
    return w && w.expiresAt > Date.now() ? w : null;
  }

  async _delete(rlKey: string): Promise<boolean> {
    await this.kv.delete(NatsKvStore.key(rlKey));
    return true;
  }

  _getRateLimiterRes(_rlKey: string, changedPoints: number, result: Window): RateLimiterRes {
    return new RateLimiterRes(
      Math.max(this.points - result.points, 0),
      Math.max(result.expiresAt - Date.now(), 0),
      result.points,
      result.points === changedPoints,
    );
  }
}

/**
 * Each endpoint's `rate_limit` (requests per second, a burst of one second's worth) over
 * the whole cluster. Returns 0 when a request may go now, else how long to wait.
 */
export async function createClusterRateLimits(js: JetStreamClient, namespace: string) {
  const kv = await js.views.kv(`${namespace}_ratelimits`, { history: 1, ttl: 60_000 });
  const limiters = new Map<number, NatsKvStore>();
  return async (endpointId: string, perSecond: number): Promise<number> => {
    let limiter = limiters.get(perSecond);
    if (!limiter) {
      limiter = new NatsKvStore(kv, { points: perSecond, duration: 1, keyPrefix: `r${perSecond}` });
      limiters.set(perSecond, limiter);
    }
    try {
      await limiter.consume(endpointId, 1);
      return 0;
    } catch (res) {
      if (res instanceof RateLimiterRes) return Math.max(res.msBeforeNext, 5);
      throw res;
    }
  };
}
