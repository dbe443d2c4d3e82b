import type { ServiceDeps } from '../core/deps.js';
import type { ChangeEvent } from '../core/model.js';
import { natsNames } from '../core/nats.js';

/** What the registry's routes share. Created by the caller and closed by the caller. */
export interface RegistryDeps extends ServiceDeps {
  announcer: Announcer;
}

/**
 * Announces subscription changes on the changes stream and remembers the newest sequence
 * this registry wrote or saw at start. Events it publishes carry that sequence, so the
 * fan-out applies an endpoint change before an event published after it: an endpoint
 * created and then sent a message gets that message, on any dispatcher.
 */
export function createAnnouncer(
  deps: Pick<RegistryDeps, 'js' | 'log' | 'config'>,
  startSeq: number,
) {
  const subject = natsNames(deps.config.namespace).changesSubject;
  let lastSeq = startSeq;
  return {
    async announce(change: ChangeEvent): Promise<void> {
      try {
        const ack = await deps.js.publish(subject, JSON.stringify(change), { timeout: 5000 });
        lastSeq = Math.max(lastSeq, ack.seq);
      } catch (err) {
        // Dispatchers resync periodically, so a lost announcement delays a change, never loses it.
        deps.log.warn({ err, change }, 'could not announce a registry change');
      }
    },
    get lastSeq() {
      return lastSeq;
    },
  };
}
export type Announcer = ReturnType<typeof createAnnouncer>;
