import { type Config, ConfigError, loadConfig, settingsTable } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { flag, type ParsedArgs, parseArgs } from './args.js';
import { runClient } from './client.js';
import { startHookline, startSidecar } from './server.js';
import type { SidecarSource } from '../sidecar/index.js';
import type { Logger } from '../core/logger.js';

const USAGE = `hookline: webhook delivery on NATS JetStream and MongoDB

Servers:
  hookline registry      the REST API
  hookline dispatcher    consumes events and delivers them (run as many as you like)
  hookline all           registry and dispatcher in one process (--sidecar adds the sidecar)
  hookline sidecar       publishes tagged log lines of labelled containers (HOOKLINE_DOCKER_HOST)
  hookline sidecar --file PATH --service NAME --topics a,b [--field F] [--data D] [--pattern RE]
  hookline sidecar --stdin --service NAME --topics a,b [...]   (app | hookline sidecar --stdin …)

Benchmark (starts its own hookline, receiver and namespace; see docs/benchmarks.md):
  hookline bench [--only loopback,client,throughput,latency,fanout,backlog] [--messages N] [--fanout N]
                 [--rate N] [--seconds N] [--wide-fanout N] [--backlog] [--backlog-size N]
                 [--dispatchers N] [--output json]

Clients of the REST API (HOOKLINE_URL, HOOKLINE_TOKEN):
  hookline topics create NAME [--description D] | list
  hookline endpoints create --url U --topic T [--topic T2] [--rate-limit N] [--description D]
  hookline endpoints list | get ID | delete ID | enable ID | disable ID | rotate-secret ID | verify ID TOKEN
  hookline publish TOPIC JSON [--idempotency-key K]
  hookline messages list [--topic T] | get ID | deliveries ID
  hookline deliveries list [--endpoint-id E] [--message-id M] [--status S] | get ID | attempts ID | retry ID
  Every client command takes --output table|json, lists take --limit N and --cursor C.

Settings (flag, variable, default; the flag wins):
${settingsTable()
  .map((s) => `  ${s.flag.padEnd(22)} ${s.env.padEnd(28)} ${s.def}`)
  .join('\n')}
`;

/** Runs one command. Returns the exit code, or null for a server that keeps running. */
export async function main(argv: string[]): Promise<number | null> {
  const args = parseArgs(argv);
  const command = args.positionals[0];
  if (!command || args.flags.has('help') || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(args.settings);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`hookline: invalid setting ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  if (command === 'sidecar') return runSidecar(args, config);
  if (command === 'bench') {
    const num = (name: string, def: number) => {
      const v = flag(args, name);
      if (v === undefined) return def;
      if (!/^\d+$/.test(v) || Number(v) < 1)
        throw new Error(`--${name} must be a positive whole number`);
      return Number(v);
    };
    const { runBench } = await import('../bench/run.js');
    const all = ['loopback', 'client', 'throughput', 'latency', 'fanout', 'backlog'];
    const only = flag(args, 'only');
    const phases = only
      ? only.split(',')
      : all.filter((p) => p !== 'client' && (p !== 'backlog' || args.flags.has('backlog')));
    const unknownPhase = phases.find((p) => !all.includes(p));
    if (unknownPhase) throw new Error(`unknown phase ${unknownPhase}: use ${all.join(', ')}`);
    await runBench(config, {
      phases,
      messages: num('messages', 5000),
      fanout: num('fanout', 10),
      rate: num('rate', 100),
      seconds: num('seconds', 10),
      wideFanout: num('wide-fanout', 10_000),
      backlog: num('backlog-size', 100_000),
      dispatchers: num('dispatchers', 1),
      json: flag(args, 'output') === 'json',
    });
    return 0;
  }

  if (command === 'registry' || command === 'dispatcher' || command === 'all') {
    const log = createLogger(config.logLevel, undefined, { service: `hookline-${command}` });
    const running = await startHookline(
      config,
      log,
      { registry: command !== 'dispatcher', dispatcher: command !== 'registry' },
      {
        onGeneratedAdminToken: (token) =>
          process.stderr.write(
            `\nhookline: no HOOKLINE_ADMIN_TOKEN was set, so one was generated. It is shown this once:\n\n  ${token}\n\nOnly its hash is stored. Keep it, e.g. export HOOKLINE_TOKEN=${token}\n\n`,
          ),
      },
    );
    let sidecar: { close(): Promise<void> } | null = null;
    if (command === 'all' && args.flags.has('sidecar')) {
      const sidecarConfig = {
        ...config,
        url: running.url ?? config.url,
        token: config.token || config.adminToken,
      };
      sidecar = await startSidecar(sidecarConfig, log, { kind: 'docker' }, running.nc);
    }
    onSignals(log, config.shutdownTimeout, async () => {
      await sidecar?.close();
      await running.close();
    });
    return null;
  }

  const clientCommands = ['topics', 'endpoints', 'publish', 'messages', 'deliveries'];
  if (clientCommands.includes(command)) {
    process.stdout.write(`${await runClient(command, args, config)}\n`);
    return 0;
  }
  process.stderr.write(`hookline: unknown command "${command}"\n\n${USAGE}`);
  return 2;
}

/** One signal handler per process: the first signal closes in order, a second exits at once. */
function onSignals(log: Logger, shutdownTimeout: number, close: () => Promise<void>): void {
  let signals = 0;
  const stop = (signal: string) => {
    signals++;
    if (signals > 1) process.exit(1);
    log.info({ signal }, 'shutting down');
    const hardStop = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, shutdownTimeout + 2500);
    hardStop.unref();
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function runSidecar(args: ParsedArgs, config: Config): Promise<number | null> {
  const log = createLogger(config.logLevel, args.flags.has('stdin') ? process.stderr : undefined, {
    service: 'hookline-sidecar',
  });
  const file = flag(args, 'file');
  const stdin = args.flags.has('stdin');
  let source: SidecarSource = { kind: 'docker' };
  if (file !== undefined || stdin) {
    const service = flag(args, 'service');
    const topics = flag(args, 'topics');
    if (!service || !topics)
      throw new Error('--file and --stdin need --service NAME and --topics a,b');
    const rules = {
      service,
      topics,
      field: flag(args, 'field'),
      data: flag(args, 'data'),
      pattern: flag(args, 'pattern'),
    };
    source =
      file !== undefined ? { kind: 'file', path: file, ...rules } : { kind: 'stdin', ...rules };
  }
  const running = await startSidecar(config, log, source);
  if (source.kind === 'stdin') {
    await running.sidecar.finished();
    await running.close();
    return 0;
  }
  onSignals(log, config.shutdownTimeout, running.close);
  return null;
}
