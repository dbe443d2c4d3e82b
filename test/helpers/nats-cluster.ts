import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { natsServerBinary } from '../../scripts/nats.mjs';
import { freePort } from './env.js';
import { reapOnExit } from './reap.js';

// A three-node NATS JetStream cluster of the test's own, on loopback: each server with its
// own client, route and monitoring ports and its own store, routes to the others. A test
// can SIGKILL one server and start it again on the same ports and store, and ask which
// server leads a stream or a consumer.

/** A SIGKILLed child has a signalCode and no exitCode: both say whether it still runs. */
const alive = (c: ChildProcess | null): c is ChildProcess =>
  !!c && c.exitCode === null && c.signalCode === null;

interface Node {
  name: string;
  client: number;
  route: number;
  monitor: number;
  store: string;
  child: ChildProcess | null;
  /** The server's log, newest lines last (stderr: NATS logs there). */
  log: string[];
}

const LOG_LINES = 2000;

export interface NatsCluster {
  /** Every server's client URL, in index order. */
  urls: string[];
  /** The servers' names, in index order (what `cluster.leader` reports). */
  names: string[];
  /** SIGKILLs server `i` and waits for it to exit. */
  kill(i: number): Promise<void>;
  /** Starts server `i` again on its ports and store; resolves once it answers /healthz. */
  start(i: number): Promise<void>;
  running(i: number): boolean;
  /** The index of the server leading a stream (or one of its consumers), if it has one. */
  leaderOf(stream: string, consumer?: string): Promise<number | null>;
  /** Resolves once every running server answers /healthz (JetStream current). */
  healthy(timeoutMs?: number): Promise<void>;
  /** The last lines each server logged (for a failing test's report). */
  logs(filter?: RegExp): string;
  /** A connection to every server, for the test's own JetStream questions. */
  jsm(): Promise<JetStreamManager>;
  close(): Promise<void>;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Starts `size` servers as one JetStream cluster; resolves once it has a meta leader. */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  // `npm test` has built it already when missing (scripts/nats.mjs).
  const bin = natsServerBinary();
  const root = mkdtempSync(join(tmpdir(), 'hookline-nats-cluster-'));
  // Removed even when the file is stopped before its `after` hooks (see reap.ts).
  const removeStores = () => rmSync(root, { recursive: true, force: true });
  process.once('exit', removeStores);
  const clusterName = `hl${process.pid}`;
  const nodes: Node[] = [];
  for (let i = 0; i < size; i++) {
    const store = join(root, `n${i}`);
    mkdirSync(store);
    nodes.push({
      name: `${clusterName}-n${i}`,
      client: await freePort(),
      route: await freePort(),
      monitor: await freePort(),
      store,
      child: null,
      log: [],
    });
  }
  const routes = nodes.map((n) => `nats://127.0.0.1:${n.route}`).join(',');
  let nc: NatsConnection | null = null;

  function spawnNode(n: Node) {
    const child = spawn(
      bin,
      [
        ...['-a', '127.0.0.1', '-p', String(n.client), '-n', n.name],
        ...['-m', String(n.monitor), '-js', '-sd', n.store],
        ...['--cluster_name', clusterName, '--cluster', `nats://127.0.0.1:${n.route}`],
        ...['--routes', routes],
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    reapOnExit(child);
    let partial = '';
    child.stderr?.on('data', (c: Buffer) => {
      const lines = (partial + c.toString()).split('\n');
      partial = lines.pop() ?? '';
      n.log.push(...lines);
      if (n.log.length > LOG_LINES) n.log.splice(0, n.log.length - LOG_LINES);
    });
    n.child = child;
  }

  async function waitHealthy(n: Node, deadline: number) {
    while (Date.now() < deadline) {
      if (!alive(n.child)) throw new Error(`${n.name} exited:\n${n.log.slice(-20).join('\n')}`);
      if (await httpOk(`http://127.0.0.1:${n.monitor}/healthz`)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${n.name} not healthy in time:\n${n.log.slice(-20).join('\n')}`);
  }

  const self: NatsCluster = {
    urls: nodes.map((n) => `nats://127.0.0.1:${n.client}`),
    names: nodes.map((n) => n.name),
    async kill(i) {
      const c = nodes[i]?.child ?? null;
      if (!alive(c)) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      });
    },
    async start(i) {
      const n = nodes[i];
      if (!n) throw new Error(`no server ${i}`);
      if (alive(n.child)) return;
      spawnNode(n);
      await waitHealthy(n, Date.now() + 30_000);
    },
    running(i) {
      return alive(nodes[i]?.child ?? null);
    },
    async leaderOf(stream, consumer) {
      const jsm = await self.jsm();
      const info = consumer
        ? await jsm.consumers.info(stream, consumer)
        : await jsm.streams.info(stream);
      const leader = info.cluster?.leader;
      const i = leader ? self.names.indexOf(leader) : -1;
      return i >= 0 ? i : null;
    },
    async healthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (const n of nodes) if (alive(n.child)) await waitHealthy(n, deadline);
    },
    logs(filter) {
      return nodes
        .map((n) => {
          const lines = filter ? n.log.filter((l) => filter.test(l)) : n.log;
          return `--- ${n.name}\n${lines.join('\n')}`;
        })
        .join('\n');
    },
    async jsm() {
      if (!nc) nc = await connect({ servers: self.urls, maxReconnectAttempts: -1 });
      return nc.jetstreamManager({ timeout: 5000 });
    },
    async close() {
      await nc?.close().catch(() => undefined);
      for (let i = 0; i < nodes.length; i++) await self.kill(i);
      removeStores();
      process.off('exit', removeStores);
    },
  };

  try {
    for (const n of nodes) spawnNode(n);
    await self.healthy(30_000);
    // A meta leader exists once the account's JetStream info is answered.
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await (await self.jsm()).getAccountInfo();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } catch (err) {
    await self.close();
    throw err;
  }
  return self;
}
