import { connect } from 'nats';
import { natsNames } from '../../core/nats.js';
import { NATS_URL } from './env.js';

export interface StoredEvent {
  seq: number;
  id: string;
  topic: string;
  body: { type: string; timestamp: string; data: unknown };
}

/**
 * Every event in a namespace's events stream (nothing consumes it when no dispatcher
 * runs), read message by message.
 */
export async function storedEvents(namespace: string): Promise<StoredEvent[]> {
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await nc.jetstreamManager();
    const names = natsNames(namespace);
    let info: Awaited<ReturnType<typeof jsm.streams.info>>;
    try {
      info = await jsm.streams.info(names.eventsStream);
    } catch {
      return [];
    }
    const out: StoredEvent[] = [];
    for (
      let seq = info.state.first_seq;
      seq <= info.state.last_seq && info.state.messages > 0;
      seq++
    ) {
      try {
        const m = await jsm.streams.getMessage(names.eventsStream, { seq });
        out.push({
          seq,
          id: m.header.get('Hookline-Message'),
          topic: m.subject.slice(names.eventsPrefix.length),
          body: JSON.parse(new TextDecoder().decode(m.data)),
        });
      } catch {
        // deleted
      }
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** How many events the namespace's stream holds (on the test NATS unless told another). */
export async function eventCount(namespace: string, natsUrl = NATS_URL): Promise<number> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await nc.jetstreamManager();
    return (await jsm.streams.info(natsNames(namespace).eventsStream)).state.messages;
  } catch {
    return 0;
  } finally {
    await nc.close();
  }
}
