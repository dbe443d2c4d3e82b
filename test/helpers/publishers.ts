/**
 * Careful publishers, for the fault tests: each sends its messages one at a time with an
 * Idempotency-Key and retries every failure (no answer, a 5xx, a 409) with the same key
 * until it gets a 202, as docs/api.md tells publishers to do. Records every answer, so a
 * test can check that every message was accepted, under one id per key, and how quickly
 * the failures came.
 */

export interface PublisherOptions {
  url: () => string;
  token: string;
  topic: string;
  publishers: number;
  perPublisher: number;
  /** The client's patience: a request with no answer after this long counts as a timeout. */
  patienceMs?: number;
  /** Everything stops after this long, accepted or not. */
  deadlineMs: number;
  /** A key prefix, so that two runs in one namespace do not share keys. */
  prefix?: string;
  /** Called after every accepted message, with the count so far. */
  onAccepted?: (count: number) => void;
}

export interface Failure {
  status: number | null;
  code: string | null;
  ms: number;
  at: number;
}

export interface PublishReport {
  /** key → the message id its 202 named (the first 202). */
  accepted: Map<string, string>;
  /** Keys answered 202 with two different ids: must be none. */
  conflicting: string[];
  /** Keys never accepted before the deadline. */
  stuck: string[];
  failures: Failure[];
  /** Requests that had no answer within the patience. */
  timeouts: number;
  /** Every accepted request's latency, in ms (the last, successful try). */
  latencies: number[];
  /** When each 202 came (ms since the epoch), in order. */
  acceptedAt: number[];
}

export function startPublishers(o: PublisherOptions) {
  const patience = o.patienceMs ?? 15_000;
  const stopAt = Date.now() + o.deadlineMs;
  const report: PublishReport = {
    accepted: new Map(),
    conflicting: [],
    stuck: [],
    failures: [],
    timeouts: 0,
    latencies: [],
    acceptedAt: [],
  };
  const prefix = o.prefix ?? 'k';

  async function once(key: string, data: unknown): Promise<boolean> {
    const started = Date.now();
    try {
      const res = await fetch(`${o.url()}/v1/messages`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${o.token}`,
          'content-type': 'application/json',
          'idempotency-key': key,
        },
        body: JSON.stringify({ topic: o.topic, data }),
        signal: AbortSignal.timeout(patience),
      });
      const text = await res.text();
      const ms = Date.now() - started;
      if (res.status === 202) {
        const id = (JSON.parse(text) as { id: string }).id;
        const seen = report.accepted.get(key);
        if (seen === undefined) {
          report.accepted.set(key, id);
          report.latencies.push(ms);
          report.acceptedAt.push(Date.now());
          o.onAccepted?.(report.accepted.size);
        } else if (seen !== id) report.conflicting.push(key);
        return true;
      }
      let code: string | null = null;
      try {
        code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? null;
      } catch {
        // not JSON: recorded without a code
      }
      report.failures.push({ status: res.status, code, ms, at: started });
      return false;
    } catch (err) {
      const ms = Date.now() - started;
      if ((err as Error).name === 'TimeoutError') report.timeouts++;
      report.failures.push({ status: null, code: (err as Error).name, ms, at: started });
      return false;
    }
  }

  async function publisher(p: number) {
    for (let i = 0; i < o.perPublisher; i++) {
      const key = `${prefix}-${p}-${i}`;
      const data = { s: prefix, p, i };
      while (!(await once(key, data))) {
        if (Date.now() > stopAt) {
          report.stuck.push(key);
          break;
        }
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
      if (Date.now() > stopAt) {
        for (let j = i + 1; j < o.perPublisher; j++) report.stuck.push(`${prefix}-${p}-${j}`);
        return;
      }
    }
  }

  const done = Promise.all(Array.from({ length: o.publishers }, (_, p) => publisher(p))).then(
    () => report,
  );
  return { report, done };
}

/** Retried answers by status (or the error's name for no answer): what publishers saw. */
export function retriedByStatus(report: PublishReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of report.failures) {
    const k = String(f.status ?? f.code);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** The longest time without an event in [from, to], counting from `from`, in ms. */
export function longestPause(times: readonly number[], from: number, to: number): number {
  const inside = times.filter((t) => t >= from && t <= to).sort((a, b) => a - b);
  let gap = (inside[0] ?? to) - from;
  for (let k = 1; k < inside.length; k++)
    gap = Math.max(gap, (inside[k] as number) - (inside[k - 1] as number));
  return gap;
}

/** The p-th percentile of `xs` (0 when empty). */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Resident memory of a process, in MB, from /proc (Linux). */
export async function rssMb(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}
