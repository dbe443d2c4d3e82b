import type { JetStreamClient, NatsConnection } from 'nats';
import type { Agent } from 'undici';
import type { Config } from '../core/config.js';
import type { SecretBox } from '../core/secretbox.js';
import type { Logger } from '../core/logger.js';
import type { Mongo } from '../core/mongo.js';
import type { NatsNames } from '../core/nats.js';
import type { DispatcherMetrics } from './metrics.js';
import type { Recorder } from './recorder.js';
import type { SubscriptionCache } from './subscriptions.js';

export interface DispatcherDeps {
  config: Config;
  log: Logger;
  mongo: Mongo;
  nc: NatsConnection;
  js: JetStreamClient;
  agent: Agent;
  box: SecretBox;
}

export interface DispatcherContext extends DispatcherDeps {
  names: NatsNames;
  subscriptions: SubscriptionCache;
  recorder: Recorder;
  metrics: DispatcherMetrics;
  ackWaitMs: number;
  /** Messages handed back to JetStream at shutdown: their handlers must not act on them. */
  released: WeakSet<object>;
}
