import type { JetStreamManager } from 'nats';
import { Gauge, type Registry } from 'prom-client';
import type { NatsNames } from '../core/nats.js';

/** Endpoints named in the per-endpoint backlog gauge; the rest are summed as "other". */
const TOP_ENDPOINTS = 20;

/**
 * Backlog gauges, read from JetStream when scraped: events waiting for fan-out, deliveries
 * waiting (new, in flight or waiting for a retry), deliveries parked (`consumer="parked"`:
 * waiting minutes or hours outside the consumer, see parking.ts), and the deliveries of the endpoints with
 * the longest queues, by endpoint id (at most 20 labels, so cardinality stays bounded).
 */
export function registerBacklogGauges(
  registry: Registry,
  jsm: JetStreamManager,
  names: NatsNames,
): void {
  new Gauge({
    name: 'hookline_consumer_backlog',
    help: 'Messages not yet acknowledged by a consumer (pending + in flight or waiting for a retry)',
    labelNames: ['consumer'],
    registers: [registry],
    async collect() {
      for (const [stream, consumer] of [
        [names.eventsStream, names.fanoutConsumer],
        [names.deliveriesStream, names.deliverConsumer],
      ] as const) {
        try {
          const info = await jsm.consumers.info(stream, consumer);
          this.set({ consumer }, info.num_pending + info.num_ack_pending);
        } catch {
          // not there yet
        }
      }
      try {
        const info = await jsm.streams.info(names.parkedStream);
        this.set({ consumer: 'parked' }, info.state.messages);
      } catch {
        // not there yet
      }
    },
  });
  new Gauge({
    name: 'hookline_endpoint_backlog',
    help: `Deliveries stored for an endpoint and not yet done; the ${TOP_ENDPOINTS} longest queues, the rest as "other"`,
    labelNames: ['endpoint'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const info = await jsm.streams.info(names.deliveriesStream, {
          subjects_filter: names.deliveriesSubject('*'),
        });
        const counts = Object.entries(info.state.subjects ?? {})
          .map(([subject, n]) => [subject.slice(names.deliveriesSubject('').length), n] as const)
          .sort((a, b) => b[1] - a[1]);
        let other = 0;
        counts.forEach(([endpoint, n], i) => {
          if (i < TOP_ENDPOINTS) this.set({ endpoint }, n);
          else other += n;
        });
        if (counts.length > TOP_ENDPOINTS) this.set({ endpoint: 'other' }, other);
      } catch {
        // not there yet
      }
    },
  });
}
