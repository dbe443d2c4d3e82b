import type { JetStreamClient, NatsConnection } from 'nats';
import type { Agent } from 'undici';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { ChangeEvent } from '../core/model.js';
import type { Mongo } from '../core/mongo.js';
import { natsNames } from '../core/nats.js';

/** What the registry's routes share. Created by the caller and closed by the caller. */
export interface RegistryDeps {
  config: Config;
  log: Logger;
  mongo: Mongo;
  nc: NatsConnection;
  js: JetStreamClient;
  /** The egress-guarded undici agent used for verification requests. */
  agent: Agent;
}

export function announcer(deps: RegistryDeps) {
  const subject = natsNames(deps.config.namespace).changesSubject;
  return (change: ChangeEvent) => {
    try {
      deps.nc.publish(subject, JSON.stringify(change));
    } catch (err) {
      // Dispatchers resync periodically, so a lost announcement delays a change, never loses it.
      deps.log.warn({ err, change }, 'could not announce a registry change');
    }
  };
}
