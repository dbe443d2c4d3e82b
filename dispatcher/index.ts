import type { ConsumerMessages, JsMsg } from 'nats';
import { Semaphore, withDeadline } from '../core/lifecycle.js';
import { natsNames } from '../core/nats.js';
import { createPublisher } from '../core/pubacks.js';
import type { DispatcherContext, DispatcherDeps } from './context.js';
import { registerBacklogGauges } from './backlog.js';
import { createDeliverer } from './deliver.js';
import { createClusterRateLimits } from './ratelimit.js';
import { fanOut } from './fanout.js';
import { createParking, type Parking } from './parking.js';
import { createDispatcherMetrics } from './metrics.js';
import { createRecorder } from './recorder.js';
import { createDeliveryStore } from './fanout.js';
import { SubscriptionCache } from './subscriptions.js';
import type { Registry } from 'prom-client';

export interface Dispatcher {
  start(): Promise<void>;
  /** Stops taking work, waits for work in flight (bounded), releases the rest to JetStream. */
  close(): Promise<void>;
  readonly subscriptions: SubscriptionCache;
}

/** JetStream redelivers an unacknowledged message after this long; attempts heartbeat meanwhile. */
export function ackWaitFor(deliveryTimeoutMs: number): number {
  return Math.max(5_000, deliveryTimeoutMs * 2);
}

export function createDispatcher(
  deps: DispatcherDeps,
  options: { metricsRegistry?: Registry } = {},
): Dispatcher {
  const names = natsNames(deps.config.namespace);
  const log = deps.log.child({ component: 'dispatcher' });
  const subscriptions = new SubscriptionCache(deps.mongo, log, deps.box);
  // The dispatcher's batched writes take turns: on a store with one writer at a time
  // (FerretDB on SQLite) two at once make one wait in SQLite's busy handler, which sleeps
  // in steps of up to 100 ms; on MongoDB each batch is large enough that turns cost little.
  const writeLane = new Semaphore(1);
  const publisher = createPublisher(deps.nc);
  const ctx: DispatcherContext = {
    ...deps,
    log,
    names,
    subscriptions,
    recorder: createRecorder(deps.mongo, writeLane),
    publish: publisher.publish,
    storeDelivery: createDeliveryStore(deps, writeLane),
    metrics: createDispatcherMetrics(options.metricsRegistry, () => subscriptions.size),
    ackWaitMs: ackWaitFor(deps.config.deliveryTimeout),
    released: new WeakSet(),
  };
  const loops: Array<{
    messages: ConsumerMessages;
    done: Promise<void>;
    sem: Semaphore;
    inFlight: Set<JsMsg>;
  }> = [];
  let stopping = false;
  let parking: Parking | null = null;
  let deliverer: ReturnType<typeof createDeliverer> | null = null;

  async function runLoop(
    stream: string,
    durable: string,
    concurrency: number,
    handle: (m: JsMsg) => Promise<void>,
    retryMs: number,
  ) {
    const consumer = await deps.js.consumers.get(stream, durable);
    const messages = await consumer.consume({ max_messages: concurrency });
    const sem = new Semaphore(concurrency);
    const inFlight = new Set<JsMsg>();
    const done = (async () => {
      for await (const m of messages) {
        if (stopping) {
          m.nak(); // buffered but not started: hand it straight to another dispatcher
          continue;
        }
        await sem.acquire();
        inFlight.add(m);
        void handle(m)
          .catch((err: unknown) => {
            log.error({ err, subject: m.subject }, 'message handling failed; it will be retried');
            try {
              m.nak(retryMs);
            } catch {
              // the connection is gone; JetStream redelivers after ack_wait
            }
          })
          .finally(() => {
            inFlight.delete(m);
            sem.release();
          });
      }
    })();
    loops.push({ messages, done, sem, inFlight });
  }

  return {
    subscriptions,
    async start() {
      await subscriptions.start(
        deps.js,
        await deps.nc.jetstreamManager(),
        names,
        deps.config.resyncInterval,
      );
      if (options.metricsRegistry)
        registerBacklogGauges(options.metricsRegistry, await deps.nc.jetstreamManager(), names);
      parking = createParking(ctx, await deps.nc.jetstreamManager());
      deliverer = createDeliverer(
        ctx,
        await createClusterRateLimits(deps.js, deps.config.namespace),
        parking,
      );
      await runLoop(names.eventsStream, names.fanoutConsumer, 32, (m) => fanOut(ctx, m), 1000);
      await runLoop(
        names.deliveriesStream,
        names.deliverConsumer,
        deps.config.concurrency,
        deliverer.handle,
        5000,
      );
      parking.start();
      log.info(
        { namespace: deps.config.namespace, endpoints: subscriptions.size },
        'dispatcher started',
      );
    },
    async close() {
      if (stopping) return;
      stopping = true;
      subscriptions.stop();
      await parking?.stop();
      for (const l of loops) l.messages.stop();
      const drained = Promise.all(loops.map((l) => l.sem.idle())).then(() => ctx.recorder.idle());
      const finished = await withDeadline(
        drained.then(() => true),
        deps.config.shutdownTimeout,
        false,
      );
      if (!finished) {
        // Hand unfinished work straight back rather than waiting out its ack_wait.
        let released = 0;
        for (const l of loops) {
          for (const m of l.inFlight) {
            ctx.released.add(m);
            try {
              m.nak();
              released++;
            } catch {
              // connection gone: JetStream redelivers after ack_wait
            }
          }
        }
        log.warn(
          { released },
          'shutdown deadline reached; unfinished deliveries returned to JetStream',
        );
      }
      await withDeadline(Promise.all(loops.map((l) => l.done)), 1000, undefined);
      publisher.close();
      deliverer?.close();
    },
  };
}
