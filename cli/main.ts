import { ConfigError, loadConfig, settingsTable } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { parseArgs } from './args.js';
import { runClient } from './client.js';
import { startHookline } from './server.js';

const USAGE = `hookline: webhook delivery on NATS JetStream and MongoDB

Servers:
  hookline registry      the REST API
  hookline dispatcher    consumes events and delivers them (run as many as you like)
  hookline all           registry and dispatcher in one process

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
    let signals = 0;
    const stop = (signal: string) => {
      signals++;
      if (signals > 1) process.exit(1);
      log.info({ signal }, 'shutting down');
      const hardStop = setTimeout(() => {
        log.error('shutdown took too long; exiting');
        process.exit(1);
      }, config.shutdownTimeout + 2500);
      hardStop.unref();
      running.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
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
