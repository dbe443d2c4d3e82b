/**
 * Per-endpoint admission, in one dispatcher: a cap on attempts in flight (a slow or hanging
 * endpoint holds at most that many of the dispatcher's slots, never all of them) and a
 * circuit breaker (after `breakerThreshold` consecutive failures, one probe at a time until
 * an attempt succeeds). Pure bookkeeping: the caller turns a refusal into a delayed nak.
 */
export interface GateOptions {
  perEndpoint: number;
  breakerThreshold: number;
  /** How long a delivery refused by the cap waits before it is offered again. */
  busyDelayMs: number;
  /** How long a delivery refused by an open circuit waits. */
  openDelayMs: number;
  random?: () => number;
}

interface State {
  inFlight: number;
  failures: number;
  probing: boolean;
}

export type Admission =
  | { ok: true; probe: boolean }
  | { ok: false; delayMs: number; reason: 'busy' | 'open' };

export class EndpointGate {
  private readonly states = new Map<string, State>();
  private readonly random: () => number;

  constructor(private readonly opts: GateOptions) {
    this.random = opts.random ?? Math.random;
  }

  enter(endpointId: string): Admission {
    let s = this.states.get(endpointId);
    if (!s) {
      s = { inFlight: 0, failures: 0, probing: false };
      this.states.set(endpointId, s);
    }
    const jitter = (ms: number) => Math.round(ms * (0.75 + 0.5 * this.random()));
    if (s.failures >= this.opts.breakerThreshold) {
      if (s.probing) return { ok: false, delayMs: jitter(this.opts.openDelayMs), reason: 'open' };
      s.probing = true;
      s.inFlight++;
      return { ok: true, probe: true };
    }
    if (s.inFlight >= this.opts.perEndpoint)
      return { ok: false, delayMs: jitter(this.opts.busyDelayMs), reason: 'busy' };
    s.inFlight++;
    return { ok: true, probe: false };
  }

  /** `success`: a 2xx; `failure`: any failed attempt; `none`: no attempt was made after all. */
  leave(endpointId: string, probe: boolean, result: 'success' | 'failure' | 'none'): void {
    const s = this.states.get(endpointId);
    if (!s) return;
    s.inFlight = Math.max(0, s.inFlight - 1);
    if (probe) s.probing = false;
    if (result === 'success') s.failures = 0;
    else if (result === 'failure') s.failures++;
    if (s.inFlight === 0 && s.failures === 0) this.states.delete(endpointId);
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
