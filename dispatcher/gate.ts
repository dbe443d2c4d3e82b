/**
 * Per-endpoint admission, in one dispatcher: a cap on attempts in flight (a slow or hanging
 * endpoint holds at most that many of the dispatcher's slots, never all of them) and a
 * circuit breaker (after `breakerThreshold` consecutive failures the circuit opens: one probe
 * at a time, spaced further apart after each failed probe, until an attempt succeeds).
 * Pure bookkeeping: the caller turns a refusal into a wait (dispatcher/parking.ts).
 */
export interface GateOptions {
  perEndpoint: number;
  breakerThreshold: number;
  /** How long a delivery refused by the cap waits before it is offered again. */
  busyDelayMs: number;
  /** How long a delivery refused by an open circuit waits, at least. */
  openDelayMs: number;
  /**
   * How long after the circuit opens the first probe may go (default 1 s); each failed
   * probe doubles the gap, up to `maxProbeGapMs` (default 60 s).
   */
  probeGapMs?: number;
  maxProbeGapMs?: number;
  /**
   * How long `admit` waits in process for one of a busy endpoint's slots before it
   * refuses (0: not at all). At most `perEndpoint` wait per endpoint.
   */
  busyWaitMs?: number;
  /** The longest a refused delivery is told to wait (default 30 s busy, 5 min open). */
  maxBusyDelayMs?: number;
  maxOpenDelayMs?: number;
  random?: () => number;
  now?: () => number;
  /**
   * Told when an endpoint's circuit opens, when a probe fails (the next probe moves), and
   * when it closes again, so that the circuit can be shown outside this process.
   */
  onCircuit?: (endpointId: string, circuit: CircuitState) => void;
}

/** An endpoint's circuit in this dispatcher: times in ms since the epoch. */
export type CircuitState = { open: false } | { open: true; since: number; probeAt: number };

interface State {
  inFlight: number;
  failures: number;
  probing: boolean;
  /** While the circuit is open: when the next probe may go, and the gap before it. */
  probeAt: number;
  probeGap: number;
  /** When the circuit opened (0 while closed). */
  openedAt: number;
  /** Refusals since the circuit opened: a backlog behind it is spread further out. */
  refusedOpen: number;
  /** Refusals and attempts finished in the current one-second window, and when it began. */
  refused: number;
  finished: number;
  windowAt: number;
  /** Refusals and attempts finished in the window before. */
  refusedBefore: number;
  finishedBefore: number;
  /** Deliveries waiting in process for a slot (see `admit`). */
  waiters: Array<{ resolve: (a: Admission) => void; timer: NodeJS.Timeout }>;
}

/** See `enter`: how far apart the refusals of an open circuit's backlog are spread. */
const OPEN_SPREAD_MS = 50;

export type Admission =
  | { ok: true; probe: boolean }
  | { ok: false; delayMs: number; reason: 'busy' | 'open' };

export class EndpointGate {
  private readonly states = new Map<string, State>();
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(private readonly opts: GateOptions) {
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
  }

  enter(endpointId: string): Admission {
    let s = this.states.get(endpointId);
    if (!s) {
      s = {
        inFlight: 0,
        failures: 0,
        probing: false,
        probeAt: 0,
        openedAt: 0,
        probeGap: 0,
        refusedOpen: 0,
        refused: 0,
        finished: 0,
        windowAt: 0,
        refusedBefore: 0,
        finishedBefore: 0,
        waiters: [],
      };
      this.states.set(endpointId, s);
    }
    if (s.failures >= this.opts.breakerThreshold) {
      const untilProbe = s.probeAt - this.now();
      if (s.probing || untilProbe > 0) {
        // The n-th refusal since the circuit opened waits n × 50 ms at least (so a backlog
        // behind it comes back at about 20 a second at most, not all at once and again and
        // again), up to the bound, and never less than until the next probe may go.
        s.refusedOpen++;
        const maxMs = this.opts.maxOpenDelayMs ?? 300_000;
        const spread = Math.min(maxMs, s.refusedOpen * OPEN_SPREAD_MS);
        return this.refuse(s, 'open', this.opts.openDelayMs, maxMs, Math.max(untilProbe, spread));
      }
      s.probing = true;
      s.inFlight++;
      return { ok: true, probe: true };
    }
    if (s.inFlight >= this.opts.perEndpoint)
      return this.refuse(s, 'busy', this.opts.busyDelayMs, this.opts.maxBusyDelayMs ?? 30_000);
    s.inFlight++;
    return { ok: true, probe: false };
  }

  /**
   * `enter`, except that a delivery for an endpoint at its cap (circuit closed) waits up
   * to `busyWaitMs` for a slot to free before it is refused: for an endpoint that answers
   * in milliseconds, a slot frees long before a trip back through JetStream would end.
   */
  admit(endpointId: string): Admission | Promise<Admission> {
    const s = this.states.get(endpointId);
    const waitMs = this.opts.busyWaitMs ?? 0;
    if (
      !s ||
      waitMs <= 0 ||
      s.failures >= this.opts.breakerThreshold ||
      s.inFlight < this.opts.perEndpoint ||
      s.waiters.length >= this.opts.perEndpoint
    )
      return this.enter(endpointId);
    return new Promise<Admission>((resolve) => {
      const waiter = {
        resolve,
        timer: setTimeout(() => {
          s.waiters.splice(s.waiters.indexOf(waiter), 1);
          resolve(this.enter(endpointId));
        }, waitMs),
      };
      s.waiters.push(waiter);
    });
  }

  /**
   * A slot for an endpoint with no trouble in sight, or false (nothing counted): its
   * circuit closed with no failure since its last success, below its cap, and no delivery
   * waiting in process for a slot (those come first). For first attempts made straight
   * from fan-out, which take this path only when nothing says the endpoint is struggling.
   */
  tryEnter(endpointId: string): boolean {
    const s = this.states.get(endpointId);
    if (s && (s.failures > 0 || s.inFlight >= this.opts.perEndpoint || s.waiters.length > 0))
      return false;
    return this.enter(endpointId).ok;
  }

  /**
   * A refusal's delay grows with how many deliveries of the endpoint were refused in the
   * last second, against how many it got through: a burst, or many waiting for an
   * endpoint that answers fast, come back after the base delay; a backlog
   * of 100,000 behind a dead or slow endpoint comes back minutes apart instead of being
   * handed out again and again (which would cost every other endpoint its throughput).
   */
  private refuse(
    s: State,
    reason: 'busy' | 'open',
    baseMs: number,
    maxMs: number,
    atLeastMs = 0,
  ): Admission {
    this.tick(s);
    s.refused++;
    // From the last whole second: a burst is refused with the base delay; what keeps
    // being refused faster than the endpoint gets through comes back further apart.
    const factor = Math.max(1, s.refusedBefore / Math.max(this.opts.perEndpoint, s.finishedBefore));
    const ms = Math.min(maxMs, baseMs * factor) * (0.75 + 0.5 * this.random());
    return { ok: false, delayMs: Math.round(Math.max(ms, atLeastMs)), reason };
  }

  private tick(s: State): void {
    const now = this.now();
    if (now - s.windowAt < 1000) return;
    const previous = now - s.windowAt < 2000;
    s.refusedBefore = previous ? s.refused : 0;
    s.finishedBefore = previous ? s.finished : 0;
    s.windowAt = now;
    s.refused = 0;
    s.finished = 0;
  }

  /** `success`: a 2xx; `failure`: any failed attempt; `none`: no attempt was made after all. */
  leave(endpointId: string, probe: boolean, result: 'success' | 'failure' | 'none'): void {
    const s = this.states.get(endpointId);
    if (!s) return;
    this.tick(s);
    if (result !== 'none') s.finished++;
    s.inFlight = Math.max(0, s.inFlight - 1);
    if (probe) s.probing = false;
    if (result === 'success') {
      const wasOpen = s.openedAt !== 0;
      s.failures = 0;
      s.probeAt = 0;
      s.probeGap = 0;
      s.refusedOpen = 0;
      s.openedAt = 0;
      if (wasOpen) this.opts.onCircuit?.(endpointId, { open: false });
    } else if (result === 'failure') {
      s.failures++;
      // The circuit opens (the first probe after a short gap) or a probe failed (a longer one).
      const opened = !probe && s.failures === this.opts.breakerThreshold;
      if (opened || probe) {
        const first = this.opts.probeGapMs ?? 1000;
        s.probeGap = opened ? first : Math.min(this.opts.maxProbeGapMs ?? 60_000, s.probeGap * 2);
        s.probeAt = this.now() + s.probeGap;
        if (opened) s.openedAt = this.now();
        this.opts.onCircuit?.(endpointId, { open: true, since: s.openedAt, probeAt: s.probeAt });
      }
    }
    const next = s.failures < this.opts.breakerThreshold ? s.waiters.shift() : undefined;
    if (next) {
      clearTimeout(next.timer);
      s.inFlight++;
      next.resolve({ ok: true, probe: false });
      return;
    }
    if (s.inFlight === 0 && s.failures === 0 && s.waiters.length === 0)
      this.states.delete(endpointId);
  }

  isOpen(endpointId: string): boolean {
    return (this.states.get(endpointId)?.failures ?? 0) >= this.opts.breakerThreshold;
  }

  inFlight(endpointId: string): number {
    return this.states.get(endpointId)?.inFlight ?? 0;
  }

  /** Endpoints with an open circuit, for metrics. */
  openCount(): number {
    let n = 0;
    for (const s of this.states.values()) if (s.failures >= this.opts.breakerThreshold) n++;
    return n;
  }
}
