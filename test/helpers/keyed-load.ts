import type { apiClient } from './hookline.js';

// A careful publisher for fault tests: single `POST /v1/messages`, each with an
// Idempotency-Key, several at a time; an answer other than 202 (503 during an election,
// 409 while the key's first attempt is in progress, a broken connection) is retried with
// the same key until accepted, so every message is accepted once.

export interface KeyedLoad {
  /** The message ids answered 202, in the order the answers came. */
  acknowledged: string[];
  /** When each was answered. */
  acceptedAt: number[];
  /** Answers that were retried, by status (or error name): what the publisher saw. */
  retried: Map<number | string, number>;
}

export async function publishKeyed(
  api: ReturnType<typeof apiClient>,
  opts: {
    topic: string;
    /** Prefix of the keys, and `data.s` of every message. */
    label: string;
    count: number;
    concurrency: number;
    /** Every message accepted within this, or the load fails. */
    timeoutMs: number;
    /** Called after each acceptance with the number accepted so far. */
    onAccepted?: (accepted: number) => void;
  },
): Promise<KeyedLoad> {
  const load: KeyedLoad = { acknowledged: [], acceptedAt: [], retried: new Map() };
  const deadline = Date.now() + opts.timeoutMs;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < opts.count; i = next++) {
      for (let attempt = 0; ; attempt++) {
        if (Date.now() > deadline) throw new Error(`message ${i} not accepted in time`);
        let status: number | string;
        try {
          const res = await api(
            'POST',
            '/v1/messages',
            { topic: opts.topic, data: { s: opts.label, i } },
            { 'idempotency-key': `${opts.label}-${i}` },
          );
          if (res.status === 202) {
            load.acknowledged.push(res.body.id as string);
            load.acceptedAt.push(Date.now());
            opts.onAccepted?.(load.acknowledged.length);
            break;
          }
          status = res.status;
        } catch (err) {
          status = (err as Error).name;
        }
        load.retried.set(status, (load.retried.get(status) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return load;
}

/** The longest time without an event in [from, to], counting from `from`, in ms. */
export function longestPause(times: readonly number[], from: number, to: number): number {
  const inside = times.filter((t) => t >= from && t <= to).sort((a, b) => a - b);
  let gap = (inside[0] ?? to) - from;
  for (let k = 1; k < inside.length; k++)
    gap = Math.max(gap, (inside[k] as number) - (inside[k - 1] as number));
  return gap;
}
