import type { JetStreamClient, NatsConnection } from 'nats';
import type { Agent } from 'undici';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { Mongo } from './mongo.js';
import type { SecretBox } from './secretbox.js';

/**
 * The connections and helpers every hookline program is given. Whoever creates them
 * (cli/server.ts) closes them; the programs only borrow them.
 */
export interface ServiceDeps {
  config: Config;
  log: Logger;
  mongo: Mongo;
  nc: NatsConnection;
  js: JetStreamClient;
  /** The egress-guarded undici agent every outbound request goes through. */
  agent: Agent;
  /** Seals endpoint secrets before they are stored, opens them when they are needed. */
  box: SecretBox;
}
