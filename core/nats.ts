import {
  AckPolicy,
  connect,
  DeliverPolicy,
  type JetStreamManager,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
} from 'nats';
import type { Logger } from './logger.js';

/** Every name hookline uses on NATS, derived from the namespace in one place. */
export function natsNames(ns: string) {
  return {
    eventsStream: `${ns}_EVENTS`,
    eventsSubject: (topic: string) => `${ns}.events.${topic}`,
    eventsPrefix: `${ns}.events.`,
    deliveriesStream: `${ns}_DELIVERIES`,
    deliveriesSubject: (endpointId: string) => `${ns}.deliveries.${endpointId}`,
    fanoutConsumer: 'fanout',
    deliverConsumer: 'deliver',
    /** Deliveries waiting minutes or hours, by the second they are due: see dispatcher/parking.ts. */
    parkedStream: `${ns}_PARKED`,
    parkedPrefix: `${ns}.parked.`,
    changesSubject: `${ns}.registry.changes`,
    changesStream: `${ns}_CHANGES`,
  } as const;
}
export type NatsNames = ReturnType<typeof natsNames>;

export async function connectNats(
  servers: string[],
  name: string,
  log: Logger,
): Promise<NatsConnection> {
  const nc = await connect({
    servers,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: false,
    // Otherwise every request (each JetStream publish) builds an Error for its stack trace:
    // about 6% of a busy dispatcher's CPU, measured with --cpu-prof.
    noAsyncTraces: true,
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') {
        log.warn({ nats: s.type, data: String(s.data) }, 'nats connection status');
      }
    }
  })();
  return nc;
}

export interface StreamLimits {
  /** How long a delivery may stay unacknowledged before JetStream hands it out again. */
  ackWaitMs: number;
  /** Deliveries waiting for a retry count as pending: the cap must hold a long backlog. */
  maxAckPendingDeliveries: number;
  /** Replicas of every stream: 3 on a three-node NATS cluster. */
  replicas?: number;
}

/** A stream or consumer someone else created first: the "add" lost a race, nothing failed. */
export function alreadyThere(err: unknown): boolean {
  return /already in use|exists/i.test(String(err));
}

/**
 * Creates or updates the streams and durable consumers. Safe to run from every process at
 * once: add fails with "already in use" when another process won, and update converges.
 */
export async function ensureStreams(jsm: JetStreamManager, names: NatsNames, limits: StreamLimits) {
  const streams = [
    { name: names.eventsStream, subjects: [`${names.eventsPrefix}>`] },
    { name: names.deliveriesStream, subjects: [names.deliveriesSubject('>')] },
    { name: names.parkedStream, subjects: [`${names.parkedPrefix}>`] },
  ];
  for (const s of streams) {
    const cfg = {
      name: s.name,
      subjects: s.subjects,
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      duplicate_window: 120_000_000_000, // 2 min, in nanoseconds
      num_replicas: limits.replicas ?? 1,
    };
    try {
      const info = await jsm.streams.info(s.name);
      if (info.config.num_replicas !== cfg.num_replicas)
        await jsm.streams.update(s.name, { ...info.config, num_replicas: cfg.num_replicas });
    } catch {
      try {
        await jsm.streams.add(cfg);
      } catch (err) {
        if (!alreadyThere(err)) throw err;
      }
    }
  }
  // Subscription changes, kept an hour: dispatchers follow them in order from where their
  // last full load of the endpoints left off.
  try {
    await jsm.streams.info(names.changesStream);
  } catch {
    try {
      await jsm.streams.add({
        name: names.changesStream,
        subjects: [names.changesSubject],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        max_age: 3600 * 1_000_000_000,
        num_replicas: limits.replicas ?? 1,
      });
    } catch (err) {
      if (!alreadyThere(err)) throw err;
    }
  }
  const nanos = (ms: number) => ms * 1_000_000;
  const consumers = [
    { stream: names.eventsStream, durable: names.fanoutConsumer, maxAckPending: 10_000 },
    {
      stream: names.deliveriesStream,
      durable: names.deliverConsumer,
      maxAckPending: limits.maxAckPendingDeliveries,
    },
  ];
  for (const c of consumers) {
    const cfg = {
      durable_name: c.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(limits.ackWaitMs),
      max_deliver: -1,
      max_ack_pending: c.maxAckPending,
    };
    try {
      await jsm.consumers.info(c.stream, c.durable);
      await jsm.consumers.update(c.stream, c.durable, {
        ack_wait: cfg.ack_wait,
        max_ack_pending: cfg.max_ack_pending,
      });
    } catch {
      try {
        await jsm.consumers.add(c.stream, cfg);
      } catch (err) {
        if (!alreadyThere(err)) throw err;
      }
    }
  }
}

/**
 * Removes every stream and key-value bucket of a namespace: used by tests and the
 * benchmark to clean up after themselves.
 */
export async function deleteNamespaceStreams(jsm: JetStreamManager, ns: string) {
  const names = natsNames(ns);
  const buckets = [`KV_${ns}_ratelimits`, `KV_${ns}_sidecar`];
  const streams = [names.eventsStream, names.deliveriesStream, names.parkedStream];
  for (const s of [...streams, names.changesStream, ...buckets]) {
    try {
      await jsm.streams.delete(s);
    } catch {
      // already gone
    }
  }
}
