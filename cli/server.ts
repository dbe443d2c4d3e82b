import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import type { Agent } from 'undici';
import type { Config } from '../core/config.js';
import { createEgressAgent } from '../core/egress.js';
import { onceClose, runAll } from '../core/lifecycle.js';
import { metricNames, renderMetrics } from '../core/metrics.js';
import { createSecretBox, loadEncryptionKey } from '../core/secretbox.js';
import type { Logger } from '../core/logger.js';
import { connectMongo, ensureIndexes, type Mongo } from '../core/mongo.js';
import { connectNats, ensureStreams, natsNames } from '../core/nats.js';
import { ackWaitFor, createDispatcher, type Dispatcher } from '../dispatcher/index.js';
import { type App, buildRegistry } from '../registry/app.js';
import { bootstrapAdminToken } from '../registry/auth.js';
import { createAnnouncer } from '../registry/context.js';
import { createSidecar, type Sidecar, type SidecarSource } from '../sidecar/index.js';
import { sweepIdempotencyKeys, sweepRetention } from '../registry/publish.js';
import { ensureSystemTopics } from '../registry/routes/topics.js';
import { sweepConsoleData } from '../registry/sweep.js';
import { backfillFailed } from '../registry/migrate.js';

export interface Running {
  /** Where the registry listens, when it runs: `http://host:port`. */
  url: string | null;
  app: App | null;
  dispatcher: Dispatcher | null;
  mongo: Mongo;
  nc: NatsConnection;
  /** The egress agent every outbound request goes through (its stats show open requests). */
  agent: Agent;
  close(): Promise<void>;
}

/**
 * Starts the parts of hookline asked for, in one process: connections first, then the
 * streams and indexes, then the registry's listener and the dispatcher's loops. `close`
 * releases them in reverse order and runs every step even when one fails.
 */
export async function startHookline(
  config: Config,
  log: Logger,
  parts: { registry: boolean; dispatcher: boolean },
  hooks: { onGeneratedAdminToken?: (token: string) => void } = {},
): Promise<Running> {
  const mongo = await connectMongo(config.mongodbUrl);
  let nc: NatsConnection | null = null;
  let agent: Agent | null = null;
  let app: App | null = null;
  let dispatcher: Dispatcher | null = null;
  let sweeper: NodeJS.Timeout | null = null;
  let metricsServer: Server | null = null;

  const close = onceClose(async () => {
    const errors = await runAll([
      () => sweeper && clearInterval(sweeper),
      () => app?.close(),
      () =>
        new Promise<void>((resolve) =>
          metricsServer ? metricsServer.close(() => resolve()) : resolve(),
        ),
      () => dispatcher?.close(),
      () => nc?.drain(),
      // Anything still in flight was released above; waiting for it would only delay exit.
      () => agent?.destroy(),
      () => mongo.close(),
    ]);
    for (const err of errors) log.warn({ err }, 'error while shutting down');
  });

  try {
    await ensureIndexes(mongo);
    nc = await connectNats(
      config.natsUrl,
      `hookline-${parts.registry ? 'registry' : ''}${parts.dispatcher ? '-dispatcher' : ''}`,
      log,
    );
    const jsm = await nc.jetstreamManager();
    await ensureStreams(jsm, natsNames(config.namespace), {
      ackWaitMs: ackWaitFor(config.deliveryTimeout),
      maxAckPendingDeliveries: 200_000,
      replicas: config.streamReplicas,
    });
    const js = nc.jetstream();
    agent = createEgressAgent({ allow: config.allowTargets });
    const box = createSecretBox(await loadEncryptionKey(config.encryptionKey, config.keyFile));
    const deps = { config, log, mongo, nc, js, agent, box };
    const metricsRegistry = new Registry();

    let url: string | null = null;
    if (parts.registry) {
      const admin = await bootstrapAdminToken(mongo, config.adminToken);
      await ensureSystemTopics(mongo);
      if (admin.generated) hooks.onGeneratedAdminToken?.(admin.generated);
      const changes = await jsm.streams.info(natsNames(config.namespace).changesStream);
      const announcer = createAnnouncer(deps, changes.state.last_seq);
      app = buildRegistry({ ...deps, announcer }, { adminHash: admin.hash, metricsRegistry });
      await app.listen({ host: config.addr.host, port: config.addr.port });
      const addr = app.server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      url = `http://${host}:${addr.port}`;
      log.info({ url }, 'registry listening');
      backfillFailed(mongo).then(
        (added) => added !== null && log.info({ added }, 'failed deliveries indexed'),
        (err: unknown) => log.warn({ err }, 'could not index failed deliveries; next start will'),
      );
      sweeper = setInterval(() => {
        sweepIdempotencyKeys({ mongo }).catch((err: unknown) =>
          log.warn({ err }, 'idempotency sweep failed'),
        );
        sweepRetention({ mongo, config }).then(
          (removed) => log.info({ removed }, 'retention sweep'),
          (err: unknown) => log.warn({ err }, 'retention sweep failed'),
        );
        sweepConsoleData({ mongo, config }).then(
          (removed) => log.info({ removed }, 'portal, stats and jobs sweep'),
          (err: unknown) => log.warn({ err }, 'portal, stats and jobs sweep failed'),
        );
      }, 10 * 60_000);
      sweeper.unref();
    }
    if (parts.dispatcher) {
      dispatcher = createDispatcher(deps, { metricsRegistry });
      await dispatcher.start();
    }
    // Without the registry's listener, metrics get one of their own when asked for.
    if (!parts.registry && config.metricsAddr) {
      const server = createServer((req, res) => {
        const path = (req.url ?? '/').split('?')[0];
        if (path !== '/metrics' && path !== '/healthz') {
          res.writeHead(404);
          res.end();
          return;
        }
        if (path === '/healthz') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"status":"ok"}');
          return;
        }
        renderMetrics(metricsRegistry, metricNames(req.url)).then(
          (text) => {
            res.writeHead(200, { 'content-type': metricsRegistry.contentType });
            res.end(text);
          },
          () => {
            res.writeHead(500);
            res.end();
          },
        );
      });
      const addr = config.metricsAddr;
      await new Promise<void>((resolve) => server.listen(addr.port, addr.host, resolve));
      metricsServer = server;
      log.info(
        { url: `http://${addr.host}:${(server.address() as AddressInfo).port}/metrics` },
        'metrics listening',
      );
    }
    return { url, app, dispatcher, mongo, nc, agent, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * The sidecar alone: it needs NATS (to publish and keep checkpoints) and the registry's
 * URL (to register topics), not MongoDB.
 */
export async function startSidecar(
  config: Config,
  log: Logger,
  source: SidecarSource,
  nc?: NatsConnection,
) {
  const own = nc ?? (await connectNats(config.natsUrl, 'hookline-sidecar', log));
  let sidecar: Sidecar | null = null;
  const close = onceClose(async () => {
    const errors = await runAll([() => sidecar?.close(), () => (nc ? undefined : own.drain())]);
    for (const err of errors) log.warn({ err }, 'error while shutting down the sidecar');
  });
  try {
    const jsm = await own.jetstreamManager();
    await ensureStreams(jsm, natsNames(config.namespace), {
      ackWaitMs: ackWaitFor(config.deliveryTimeout),
      maxAckPendingDeliveries: 200_000,
      replicas: config.streamReplicas,
    });
    sidecar = await createSidecar({ config, log, js: own.jetstream() }, source);
    await sidecar.start();
    return { sidecar, close };
  } catch (err) {
    await close();
    throw err;
  }
}
