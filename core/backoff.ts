/**
 * When to try a delivery again. Pure: the caller passes the random source, so tests can
 * pin it. `attempts` is how many attempts have been made so far (1 after the first).
 * Returns null when the schedule is spent.
 */
export function nextRetryDelay(
  schedule: readonly number[],
  attempts: number,
  options: { retryAfterMs?: number | undefined; random?: () => number; jitter?: number } = {},
): number | null {
  const base = schedule[attempts - 1];
  if (base === undefined) return null;
  const jitter = options.jitter ?? 0.2;
  const random = options.random ?? Math.random;
  // Symmetric jitter spreads retries of a burst of failures so they do not return as a burst.
  const delay = Math.round(base * (1 - jitter + 2 * jitter * random()));
  const floor = options.retryAfterMs ?? 0;
  return Math.max(delay, floor);
}

/** Reads a Retry-After header: delta seconds or an HTTP date. Capped at one day. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const cap = 86_400_000;
  if (/^\d+$/.test(value.trim())) return Math.min(Number(value.trim()) * 1000, cap);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(at - now, 0), cap);
}
