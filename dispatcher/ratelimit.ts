import type { JetStreamClient, KV, KvEntry } from 'nats';
import { type Claim, charge, claim, intervalMs } from './gcra.js';

/**
 * Every endpoint's `rate_limit` over the whole cluster: its GCRA state (dispatcher/gcra.ts),
 * one time, is one key of the `<ns>_ratelimits` JetStream key-value bucket, which every
 * dispatcher reads and writes with compare-and-set on the key's revision (atomic without a
 * lock; a dispatcher that loses the race reads the key again). The state last read or
 * written is kept, so a dispatcher that takes slot after slot does not read before each.
 *
 * Times are wall-clock milliseconds (Date.now()) shared between dispatchers: their clocks
 * must agree (docs/operations.md).
 */

/** Compare-and-sets lost in a row after which a claim fails (the delivery is retried). */
const MAX_CAS = 20;

export interface RateLimits {
  /**
   * Takes up to `wanted` slots for requests to the endpoint that may go now, or none and
   * when the next one comes. One claim at a time per endpoint (dispatcher/pacing.ts).
   */
  claim(endpointId: string, perSecond: number, wanted: number): Promise<Claim>;
  /** Charges a request that went at `sentAt`, too late after `slot` (gcra.ts: charge). */
  charge(endpointId: string, perSecond: number, slot: number, sentAt: number): Promise<void>;
  /** Drops what is kept about an endpoint with nothing waiting. */
  forget(endpointId: string): void;
}

interface Known {
  tat: number;
  /** The key's revision; 0 when the bucket has no entry (the write must create it). */
  revision: number;
}

function decode(entry: KvEntry | null): Known {
  if (!entry) return { tat: 0, revision: 0 };
  let tat = 0;
  if (entry.operation === 'PUT' && entry.length > 0) {
    try {
      const v = Number((JSON.parse(entry.string()) as { tat?: unknown }).tat);
      if (Number.isFinite(v)) tat = v;
    } catch {
      // not ours: overwritten by the next claim
    }
  }
  return { tat, revision: entry.revision };
}

function lostTheRace(err: unknown): boolean {
  const code = (err as { api_error?: { err_code?: number } } | null)?.api_error?.err_code;
  return code === 10071 || /wrong last sequence/i.test(String(err));
}

export async function createClusterRateLimits(
  js: JetStreamClient,
  namespace: string,
): Promise<RateLimits> {
  // Keys expire a minute after their last write, when their time is long past.
  const kv: KV = await js.views.kv(`${namespace}_ratelimits`, { history: 1, ttl: 60_000 });
  const known = new Map<string, Known>();
  const keyOf = (endpointId: string) => `gcra.${endpointId.replace(/[^-/_=.a-zA-Z0-9]/g, '_')}`;

  /**
   * Reads the endpoint's state (the one kept, on the first try), lets `next` decide, and
   * writes what it decides with compare-and-set, again from a fresh read when another
   * dispatcher wrote first. `next` decides null when there is nothing to write.
   */
  async function update<T>(
    endpointId: string,
    next: (tat: number) => { tat: number | null; result: T },
  ): Promise<T> {
    const key = keyOf(endpointId);
    for (let attempt = 0; attempt < MAX_CAS; attempt++) {
      const state =
        (attempt === 0 ? known.get(endpointId) : undefined) ?? decode(await kv.get(key));
      const n = next(state.tat);
      if (n.tat === null) {
        // The state kept here may be behind the bucket's, but only ever earlier: the caller
        // asks again at the time it was told, and then learns better.
        known.set(endpointId, state);
        return n.result;
      }
      try {
        const revision = await kv.put(key, JSON.stringify({ tat: n.tat }), {
          previousSeq: state.revision,
        });
        known.set(endpointId, { tat: n.tat, revision });
        return n.result;
      } catch (err) {
        if (!lostTheRace(err)) throw err;
        // Another dispatcher wrote first: read again.
      }
    }
    throw new Error(`rate limit: ${MAX_CAS} writes of ${key} in a row lost to other dispatchers`);
  }

  return {
    claim(endpointId, perSecond, wanted) {
      const interval = intervalMs(perSecond);
      return update(endpointId, (tat) => {
        const c = claim(tat, Date.now(), wanted, interval);
        return { tat: c.slots.length > 0 ? c.tat : null, result: c };
      });
    },
    charge(endpointId, perSecond, slot, sentAt) {
      const interval = intervalMs(perSecond);
      return update(endpointId, (tat) => ({
        tat: charge(tat, slot, sentAt, interval),
        result: undefined,
      }));
    },
    forget(endpointId) {
      known.delete(endpointId);
    },
  };
}
