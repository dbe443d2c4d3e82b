import { nextRetryDelay, parseRetryAfter } from '../core/backoff.js';

export type Outcome =
  | { kind: 'succeeded' }
  /** 410 Gone: the receiver says it will never want this again; the endpoint is disabled. */
  | { kind: 'gone' }
  | { kind: 'retry'; delayMs: number }
  | { kind: 'failed' };

/**
 * What one attempt's result means, as the contract defines it: any 2xx succeeds; 410
 * disables; everything else (other statuses, redirects, timeouts, network errors) is
 * retried on the schedule, a 429 or 503 waiting at least its Retry-After, until the
 * delivery's attempts are spent. `attempts` counts the attempt just made.
 */
export function classify(input: {
  statusCode: number | null;
  retryAfter?: string | undefined;
  attempts: number;
  maxAttempts: number;
  schedule: readonly number[];
  random?: () => number;
  now?: number;
}): Outcome {
  const { statusCode } = input;
  if (statusCode !== null && statusCode >= 200 && statusCode <= 299) return { kind: 'succeeded' };
  if (statusCode === 410) return { kind: 'gone' };
  if (input.attempts >= input.maxAttempts) return { kind: 'failed' };
  const retryAfterMs =
    statusCode === 429 || statusCode === 503
      ? parseRetryAfter(input.retryAfter, input.now)
      : undefined;
  const opts: { retryAfterMs?: number; random?: () => number } = {};
  if (retryAfterMs !== undefined) opts.retryAfterMs = retryAfterMs;
  if (input.random) opts.random = input.random;
  const delay = nextRetryDelay(input.schedule, input.attempts, opts);
  if (delay === null) return { kind: 'failed' };
  return { kind: 'retry', delayMs: delay };
}
