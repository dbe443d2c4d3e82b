import type { Config } from '../core/config.js';
import { flag, type ParsedArgs } from './args.js';

type Json = Record<string, unknown>;

class ApiClient {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  async call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<unknown> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? null : JSON.stringify(body),
    });
    if (res.status === 204) return null;
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    if (!res.ok) {
      const err = (parsed as { error?: { code?: string; message?: string } }).error;
      throw new Error(`${res.status} ${err?.code ?? ''}: ${err?.message ?? text}`.trim());
    }
    return parsed;
  }
}

function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

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
  const api = new ApiClient(config.url, config.token);
  const output = flag(args, 'output') ?? 'table';
  if (output !== 'table' && output !== 'json') throw new Error('--output is table or json');
  const sub = args.positionals[1];
  const show = (kind: string, v: unknown) => render(kind, v, output);
  const list = (kind: string, path: string, params: Record<string, string | undefined> = {}) =>
    api
      .call(
        'GET',
        path + query({ ...params, limit: flag(args, 'limit'), cursor: flag(args, 'cursor') }),
      )
      .then((v) => show(kind, v));

  switch (command) {
    case 'topics':
      if (sub === 'create') {
        const desc = flag(args, 'description');
        return show(
          'topics',
          await api.call('POST', '/v1/topics', {
            name: need(args, 2, 'topic name'),
            ...(desc ? { description: desc } : {}),
          }),
        );
      }
      if (sub === 'list') return list('topics', '/v1/topics');
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
          const body: Json = { url, topics };
          if (rate !== undefined) body.rate_limit = Number(rate);
          if (desc !== undefined) body.description = desc;
          return show('endpoints', await api.call('POST', '/v1/endpoints', body));
        }
        case 'list':
          return list('endpoints', '/v1/endpoints');
        case 'get':
          return show(
            'endpoints',
            await api.call('GET', `/v1/endpoints/${encodeURIComponent(id())}`),
          );
        case 'delete':
          return show(
            'endpoints',
            await api.call('DELETE', `/v1/endpoints/${encodeURIComponent(id())}`),
          );
        case 'enable':
        case 'disable':
        case 'rotate-secret':
          return show(
            'endpoints',
            await api.call('POST', `/v1/endpoints/${encodeURIComponent(id())}/${sub}`),
          );
        case 'verify':
          return show(
            'endpoints',
            await api.call('POST', `/v1/endpoints/${encodeURIComponent(id())}/verify`, {
              token: need(args, 3, 'token'),
            }),
          );
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
      const key = flag(args, 'idempotency-key');
      return show(
        'messages',
        await api.call(
          'POST',
          '/v1/messages',
          { topic, data },
          key ? { 'idempotency-key': key } : {},
        ),
      );
    }
    case 'messages':
      if (sub === 'list') return list('messages', '/v1/messages', { topic: flag(args, 'topic') });
      if (sub === 'get')
        return show(
          'messages',
          await api.call('GET', `/v1/messages/${encodeURIComponent(need(args, 2, 'message id'))}`),
        );
      if (sub === 'deliveries')
        return list(
          'deliveries',
          `/v1/messages/${encodeURIComponent(need(args, 2, 'message id'))}/deliveries`,
        );
      break;
    case 'deliveries':
      if (sub === 'list') {
        return list('deliveries', '/v1/deliveries', {
          endpoint_id: flag(args, 'endpoint-id'),
          message_id: flag(args, 'message-id'),
          status: flag(args, 'status'),
        });
      }
      if (sub === 'get')
        return show(
          'deliveries',
          await api.call(
            'GET',
            `/v1/deliveries/${encodeURIComponent(need(args, 2, 'delivery id'))}`,
          ),
        );
      if (sub === 'attempts')
        return list(
          'attempts',
          `/v1/deliveries/${encodeURIComponent(need(args, 2, 'delivery id'))}/attempts`,
        );
      if (sub === 'retry')
        return show(
          'deliveries',
          await api.call(
            'POST',
            `/v1/deliveries/${encodeURIComponent(need(args, 2, 'delivery id'))}/retry`,
          ),
        );
      break;
  }
  throw new Error(`unknown command: hookline ${args.positionals.join(' ')} (see hookline --help)`);
}
