import { headers as natsHeaders, type JetStreamClient, type PubAck } from 'nats';
import { eventBody, H } from './event.js';
import { natsNames } from './nats.js';

/**
 * Publishes one event to the events stream under its message id (the JetStream dedupe id
 * too). Without `recorded`, the dispatcher's fan-out records the message in MongoDB.
 */
export function publishEvent(
  js: JetStreamClient,
  namespace: string,
  event: {
    id: string;
    topic: string;
    data: unknown;
    at: Date;
    recorded?: boolean;
    changesSeq?: number;
    /** For a system event: the owner of the object it is about (null: the admin's). */
    audience?: string | null;
  },
  timeoutMs = 10_000,
): Promise<PubAck> {
  const h = natsHeaders();
  h.set(H.message, event.id);
  if (event.recorded) h.set(H.recorded, '1');
  if (event.changesSeq) h.set(H.changesSeq, String(event.changesSeq));
  if (event.audience) h.set(H.audience, event.audience);
  return js.publish(
    natsNames(namespace).eventsSubject(event.topic),
    Buffer.from(eventBody(event.topic, event.at, event.data)),
    { msgID: event.id, headers: h, timeout: timeoutMs },
  );
}
