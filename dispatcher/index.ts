import type { JsMsg } from 'nats';
import { Semaphore, sleep, withDeadline } from '../core/lifecycle.js';
import { natsNames } from '../core/nats.js';
import { createPublisher } from '../core/pubacks.js';
import type { DispatcherContext, DispatcherDeps, Tail } from './context.js';
import { registerBacklogGauges } from './backlog.js';
import { createDeliverer } from './deliver.js';
import { createClusterRateLimits } from './ratelimit.js';
import { fanOut } from './fanout.js';
import { createParking, type Parking } from './parking.js';
import { createPull, type Pull } from './pull.js';
import { createDispatcherMetrics } from './metrics.js';
import { createRecorder } from './recorder.js';
import { createCounters } from './counters.js';
import { createDeliveryStore } from './fanout.js';
import { SubscriptionCache } from './subscriptions.js';
import type { Registry } from 'prom-client';

export interface Dispatcher {
  start(): Promise<void>;
  /** Stops taking work, waits for work in flight (bounded), releases the rest to JetStream. */
  close(): Promise<void>;
  readonly subscriptions: SubscriptionCache;
}

/** How long a message handed back while shutting down waits before it is handed out again. */
const STOPPING_NAK_MS = 5000;

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
  const counters = createCounters(deps.mongo, writeLane, log);
  const ctx: DispatcherContext = {
    ...deps,
    log,
    names,
    subscriptions,
    recorder: createRecorder(deps.mongo, writeLane, counters),
    publish: publisher.publish,
    storeDelivery: createDeliveryStore(deps, writeLane),
    metrics: createDispatcherMetrics(options.metricsRegistry, () => subscriptions.size),
    ackWaitMs: ackWaitFor(deps.config.deliveryTimeout),
    released: new WeakSet(),
  };
  const loops: Array<{
    pull: Pull;
    done: Promise<void>;
    inFlight: Set<JsMsg>;
  }> = [];
  let stopping = false;
  let pulling = true;
  let parking: Parking | null = null;
  let deliverer: ReturnType<typeof createDeliverer> | null = null;

  /** A message taken while shutting down, before its handling started (see runLoop). */
  function handBack(m: JsMsg): void {
    if (pulling) m.nak(STOPPING_NAK_MS);
  }

  /**
   * Takes a consumer's messages, `concurrency` handlers at a time. A handler that returns
   * a Tail gives its slot back at once and its message stays in flight until the tail
   * settles (a failed tail hands the message back like a failed handler).
   */
  async function runLoop(
    stream: string,
    durable: string,
    concurrency: number,
    handle: (m: JsMsg) => Promise<Tail | undefined>,
    retryMs: number,
  ) {
    const consumer = await deps.js.consumers.get(stream, durable);
    // Pulled again from scratch whenever the pull stops making progress (see pull.ts).
    const pull = createPull(deps.nc, consumer, {
      name: durable,
      maxMessages: concurrency,
      log,
      onRestart: (reason) => ctx.metrics.pullRestarts.inc({ consumer: durable, reason }),
    });
    const sem = new Semaphore(concurrency);
    const inFlight = new Set<JsMsg>();
    const done = (async () => {
      for await (const m of pull.messages) {
        // Taken while shutting down: handed back for another dispatcher, after a moment
        // so that it does not come straight back here. After the pull has stopped it is
        // left alone (see close) and comes back after its ack_wait.
        if (stopping) {
          handBack(m);
          continue;
        }
        await sem.acquire();
        if (stopping) {
          sem.release();
          handBack(m);
          continue;
        }
        inFlight.add(m);
        let slot = true;
        const free = () => {
          if (!slot) return;
          slot = false;
          sem.release();
        };
        void handle(m)
          .then((tail) => {
            if (!tail) return;
            free();
            return tail.settled;
          })
          .catch((err: unknown) => {
            log.error({ err, subject: m.subject }, 'message handling failed; it will be retried');
            if (ctx.released.has(m)) return;
            try {
              m.nak(retryMs);
            } catch {
              // the connection is gone; JetStream redelivers after ack_wait
            }
          })
          .finally(() => {
            inFlight.delete(m);
            free();
          });
      }
    })();
    loops.push({ pull, done, inFlight });
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
      const { direct, handle } = deliverer;
      await runLoop(
        names.eventsStream,
        names.fanoutConsumer,
        32,
        (m) => fanOut(ctx, m, direct),
        1000,
      );
      await runLoop(
        names.deliveriesStream,
        names.deliverConsumer,
        deps.config.concurrency,
        handle,
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
      deliverer?.stop();
      await parking?.stop();
      // The consumers keep pulling until the very end: JetStream counts a message handed
      // back (nak) as delivered once more only while this connection still pulls. A nak
      // after the pull stopped makes it forget the deliveries so far, and the next
      // dispatcher would take a redelivered event for a first one (seen on NATS 2.9.10).
      const drained = (async () => {
        while (loops.some((l) => l.inFlight.size > 0)) await sleep(20);
        await ctx.recorder.idle();
        await counters.close();
      })();
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
              m.nak(STOPPING_NAK_MS);
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
      // Counted attempts are written last (a no-op when the drain above did it).
      await withDeadline(counters.close(), 2000, undefined);
      pulling = false;
      for (const l of loops) l.pull.stop();
      await withDeadline(Promise.all(loops.map((l) => l.done)), 1000, undefined);
      publisher.close();
      deliverer?.close();
    },
  };
}
