/** A `close()` that runs once, however often it is called, and runs every step even if one fails. */
export function onceClose(steps: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  return () => {
    running ??= steps();
    return running;
  };
}

export async function runAll(steps: Array<() => Promise<unknown> | unknown>): Promise<Error[]> {
  const errors: Error[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      errors.push(err as Error);
    }
  }
  return errors;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with the promise's value, or with `fallback` after `ms`. */
export function withDeadline<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((r) => {
    timer = setTimeout(() => r(fallback), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** A counting semaphore for bounding work in flight. */
export class Semaphore {
  private waiters: Array<() => void> = [];
  private used = 0;
  constructor(private readonly size: number) {}
  get inFlight(): number {
    return this.used;
  }
  async acquire(): Promise<void> {
    if (this.used < this.size) {
      this.used++;
      return;
    }
    await new Promise<void>((r) => this.waiters.push(r));
  }
  /** A slot now, or false without waiting. */
  tryAcquire(): boolean {
    if (this.used >= this.size) return false;
    this.used++;
    return true;
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.used--;
  }
  /** Resolves when nothing is in flight. */
  async idle(pollMs = 20): Promise<void> {
    while (this.used > 0) await sleep(pollMs);
  }
}
