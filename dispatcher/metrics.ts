import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export function createDispatcherMetrics(
  registry: Registry = new Registry(),
  endpointsKnown: () => number,
) {
  return {
    registry,
    endpoints: new Gauge({
      name: 'hookline_subscribed_endpoints',
      help: "Endpoints in this dispatcher's subscription cache: every change announced so far is applied once it matches the registry",
      registers: [registry],
      collect() {
        this.set(endpointsKnown());
      },
    }),
    stored: new Counter({
      name: 'hookline_deliveries_stored_total',
      help: 'Deliveries fan-out stored in MongoDB (counted before they are queued)',
      registers: [registry],
    }),
    fannedOut: new Counter({
      name: 'hookline_deliveries_created_total',
      help: 'Deliveries created by fan-out: stored in MongoDB, then queued on JetStream or attempted at once',
      registers: [registry],
    }),
    direct: new Counter({
      name: 'hookline_deliveries_direct_total',
      help: 'First attempts fan-out made itself, without queueing the delivery on JetStream',
      registers: [registry],
    }),
    outcomes: new Counter({
      name: 'hookline_delivery_attempts_total',
      help: 'Delivery attempts by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    deferred: new Counter({
      name: 'hookline_deliveries_deferred_total',
      help: 'Deliveries handed back to JetStream for later without an attempt, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    parked: new Counter({
      name: 'hookline_deliveries_parked_total',
      help: 'Deliveries moved to the parking stream to wait minutes or hours',
      registers: [registry],
    }),
    unparked: new Counter({
      name: 'hookline_deliveries_unparked_total',
      help: 'Parked deliveries moved back to the deliveries stream when due',
      registers: [registry],
    }),
    pullRestarts: new Counter({
      name: 'hookline_consumer_pull_restarts_total',
      help: 'Pulls of the fanout and deliver consumers started again because they stopped making progress (a leader moved), by reason',
      labelNames: ['consumer', 'reason'],
      registers: [registry],
    }),
    attemptSeconds: new Histogram({
      name: 'hookline_delivery_attempt_duration_seconds',
      help: 'Duration of delivery attempts',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}
export type DispatcherMetrics = ReturnType<typeof createDispatcherMetrics>;
