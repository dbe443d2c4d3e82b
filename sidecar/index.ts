import type { JetStreamClient } from 'nats';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { createTopicRegistrar } from './catalogue.js';
import { openCheckpoints } from './checkpoint.js';
import { createDockerApi } from './docker-api.js';
import { watchDocker } from './docker.js';
import { followFile } from './file.js';
import { newStats } from './pipeline.js';
import { createPublisher } from './publisher.js';
import { rulesFrom } from './rules.js';
import { readStream } from './stdin.js';

export type SidecarSource =
  | { kind: 'docker' }
  | {
      kind: 'file';
      path: string;
      service: string;
      topics: string;
      field?: string;
      data?: string;
      pattern?: string;
    }
  | {
      kind: 'stdin';
      service: string;
      topics: string;
      field?: string;
      data?: string;
      pattern?: string;
    };

export interface SidecarDeps {
  config: Config;
  log: Logger;
  js: JetStreamClient;
}

/**
 * The sidecar: a source of log lines (Docker containers, a file, or standard input), the
 * rules that turn lines into events, a publisher to JetStream and the checkpoints. It
 * owns none of the connections it is given.
 */
export async function createSidecar(deps: SidecarDeps, source: SidecarSource) {
  const log = deps.log.child({ component: 'sidecar' });
  const stats = newStats();
  const publisher = createPublisher({ js: deps.js, namespace: deps.config.namespace, log });
  const registrar = createTopicRegistrar({ url: deps.config.url, token: deps.config.token, log });
  let stop: () => Promise<void> = async () => undefined;
  let finished: Promise<void> = new Promise(() => undefined);

  async function start(): Promise<void> {
    if (source.kind === 'docker') {
      const api = createDockerApi(deps.config.dockerHost);
      const checkpoints = await openCheckpoints(
        deps.js,
        deps.config.namespace,
        log,
        deps.config.streamReplicas,
      );
      const watcher = watchDocker({ api, publisher, checkpoints, registrar, stats, log });
      watcher.start();
      stop = async () => {
        await watcher.stop();
        await checkpoints.flush();
        await api.close();
      };
      return;
    }
    const rules = rulesFrom(source);
    registrar.ensure(rules.topics, rules.service);
    if (source.kind === 'file') {
      const checkpoints = await openCheckpoints(
        deps.js,
        deps.config.namespace,
        log,
        deps.config.streamReplicas,
      );
      const follower = followFile({ path: source.path, rules, publisher, checkpoints, stats, log });
      finished = follower.start();
      stop = async () => {
        await follower.stop();
        await checkpoints.flush();
      };
      return;
    }
    finished = readStream(process.stdin, { rules, publisher, stats, log });
  }

  return {
    stats,
    start,
    /** Resolves when a finite source (stdin) has been read and acknowledged to its end. */
    finished: () => finished,
    async close(): Promise<void> {
      await stop();
      await registrar.stop();
      publisher.close();
      log.info({ stats, published: publisher.stats.published }, 'sidecar stopped');
    },
  };
}
export type Sidecar = Awaited<ReturnType<typeof createSidecar>>;
