import type { ServiceDeps } from '../core/deps.js';
import type { StoredDelivery } from '../core/model.js';
import type { NatsNames } from '../core/nats.js';
import type { Publish } from '../core/pubacks.js';
import type { DispatcherMetrics } from './metrics.js';
import type { Recorder } from './recorder.js';
import type { SubscriptionCache } from './subscriptions.js';

export type DispatcherDeps = ServiceDeps;

export interface DispatcherContext extends DispatcherDeps {
  names: NatsNames;
  subscriptions: SubscriptionCache;
  recorder: Recorder;
  /** JetStream publishing for the hot paths (core/pubacks.ts). */
  publish: Publish;
  /** Stores a delivery at fan-out, batched with others: true when new. */
  storeDelivery: (d: StoredDelivery) => Promise<boolean>;
  metrics: DispatcherMetrics;
  ackWaitMs: number;
  /** Messages handed back to JetStream at shutdown: their handlers must not act on them. */
  released: WeakSet<object>;
}

/**
 * Work a handler has started and that settles its message later, after the handler has
 * given its slot back (fan-out's first attempts: see Deliverer.direct).
 */
export interface Tail {
  settled: Promise<void>;
}
