import { ApiError, createApiClient, type Page } from '../core/api-client.js';
import type { Config } from '../core/config.js';
import { flag, type ParsedArgs } from './args.js';

type Json = Record<string, unknown>;

function need(args: ParsedArgs, index: number, what: string): string {
  const v = args.positionals[index];
  if (v === undefined) throw new Error(`missing ${what}`);
  return v;
}

const COLUMNS: Record<string, string[]> = {
  topics: ['name', 'description', 'created_at'],
  endpoints: ['id', 'status', 'url', 'topics', 'rate_limit'],
  messages: ['id', 'topic', 'created_at'],
  deliveries: ['id', 'status', 'attempts', 'endpoint_id', 'last_status_code', 'next_attempt_at'],
  attempts: ['created_at', 'status_code', 'duration_ms', 'error'],
};

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Table output for people; `--output json` prints exactly the API's objects. */
export function render(kind: string, value: unknown, output: string): string {
  const isList =
    value !== null &&
    typeof value === 'object' &&
    Array.isArray((value as { data?: unknown }).data);
  const rows = isList ? (value as { data: Json[] }).data : null;
  if (output === 'json') return JSON.stringify(rows ?? value, null, 2);
  if (rows) {
    const cols = COLUMNS[kind] ?? Object.keys(rows[0] ?? {});
    const table = [
      cols.map((c) => c.toUpperCase()),
      ...rows.map((r) => cols.map((c) => cell(r[c]))),
    ];
    const widths = cols.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
    return table
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd(),
      )
      .join('\n');
  }
  if (value === null) return 'ok';
  const obj = value as Json;
  const width = Math.max(...Object.keys(obj).map((k) => k.length));
  return Object.entries(obj)
    .map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}`)
    .join('\n');
}

/** The client commands: topics, endpoints, publish, messages, deliveries. */
export async function runClient(
  command: string,
  args: ParsedArgs,
  config: Config,
): Promise<string> {
  try {
    return await runCommand(command, args, config);
  } catch (err) {
    // `404 endpoint_not_found: Unknown endpoint "ep_1".`, as the CLI has always printed.
    if (err instanceof ApiError) throw new Error(err.describe());
    throw err;
  }
}

async function runCommand(command: string, args: ParsedArgs, config: Config): Promise<string> {
  const api = createApiClient({ baseUrl: config.url, token: config.token });
  const output = flag(args, 'output') ?? 'table';
  if (output !== 'table' && output !== 'json') throw new Error('--output is table or json');
  const sub = args.positionals[1];
  const show = (kind: string, v: unknown) => render(kind, v, output);
  const limit = flag(args, 'limit');
  const page: Page = {
    limit: limit === undefined ? undefined : Number(limit),
    cursor: flag(args, 'cursor'),
  };
  if (limit !== undefined && !/^\d+$/.test(limit))
    throw new Error('--limit must be a whole number');

  switch (command) {
    case 'topics':
      if (sub === 'create') {
        const desc = flag(args, 'description');
        return show(
          'topics',
          await api.topics.create({
            name: need(args, 2, 'topic name'),
            ...(desc ? { description: desc } : {}),
          }),
        );
      }
      if (sub === 'list') return show('topics', await api.topics.list(page));
      break;
    case 'endpoints': {
      const id = () => need(args, 2, 'endpoint id');
      switch (sub) {
        case 'create': {
          const url = flag(args, 'url');
          const topics = args.flags.get('topic') ?? [];
          if (!url || topics.length === 0)
            throw new Error('endpoints create needs --url and at least one --topic');
          const rate = flag(args, 'rate-limit');
          const desc = flag(args, 'description');
          return show(
            'endpoints',
            await api.endpoints.create({
              url,
              topics,
              ...(rate !== undefined ? { rate_limit: Number(rate) } : {}),
              ...(desc !== undefined ? { description: desc } : {}),
            }),
          );
        }
        case 'list':
          return show('endpoints', await api.endpoints.list(page));
        case 'get':
          return show('endpoints', await api.endpoints.get(id()));
        case 'delete':
          return show('endpoints', await api.endpoints.remove(id()));
        case 'enable':
          return show('endpoints', await api.endpoints.enable(id()));
        case 'disable':
          return show('endpoints', await api.endpoints.disable(id()));
        case 'rotate-secret':
          return show('endpoints', await api.endpoints.rotateSecret(id()));
        case 'verify':
          return show('endpoints', await api.endpoints.verify(id(), need(args, 3, 'token')));
      }
      break;
    }
    case 'publish': {
      const topic = need(args, 1, 'topic');
      const raw = need(args, 2, 'JSON data');
      let data: unknown;
      try {
        data = JSON.parse(raw);
      } catch {
        throw new Error(`the data is not valid JSON: ${raw}`);
      }
      return show(
        'messages',
        await api.messages.publish({ topic, data }, flag(args, 'idempotency-key')),
      );
    }
    case 'messages':
      if (sub === 'list')
        return show('messages', await api.messages.list({ ...page, topic: flag(args, 'topic') }));
      if (sub === 'get')
        return show('messages', await api.messages.get(need(args, 2, 'message id')));
      if (sub === 'deliveries')
        return show('deliveries', await api.messages.deliveries(need(args, 2, 'message id'), page));
      break;
    case 'deliveries':
      if (sub === 'list') {
        const status = flag(args, 'status');
        if (status !== undefined && !['pending', 'succeeded', 'failed'].includes(status))
          throw new Error('--status is pending, succeeded or failed');
        return show(
          'deliveries',
          await api.deliveries.list({
            ...page,
            endpoint_id: flag(args, 'endpoint-id'),
            message_id: flag(args, 'message-id'),
            status: status as 'pending' | 'succeeded' | 'failed' | undefined,
          }),
        );
      }
      if (sub === 'get')
        return show('deliveries', await api.deliveries.get(need(args, 2, 'delivery id')));
      if (sub === 'attempts')
        return show('attempts', await api.deliveries.attempts(need(args, 2, 'delivery id'), page));
      if (sub === 'retry')
        return show('deliveries', await api.deliveries.retry(need(args, 2, 'delivery id')));
      break;
  }
  throw new Error(`unknown command: hookline ${args.positionals.join(' ')} (see hookline --help)`);
}
