import { startHookline, type Running } from '../../cli/server.js';
import { loadConfig, type SettingName } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { isolation, NATS_URL } from './env.js';

export const ADMIN = 'test-admin-token';

export interface TestApi {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary API JSON
  body: any;
  headers: Headers;
}

/** An HTTP client for the registry, with the admin token unless told otherwise. */
export function apiClient(base: string, token: string | null = ADMIN) {
  return async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<TestApi> => {
    const res = await fetch(base + path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

/**
 * `hookline all` in this process, on port 0, in a namespace and database of its own.
 * Settings default to fast retries and loopback receivers allowed.
 */
export async function startTestHookline(
  label: string,
  settings: Partial<Record<SettingName, string>> = {},
) {
  const iso = isolation(label);
  const base: Partial<Record<SettingName, string>> = {
    addr: '127.0.0.1:0',
    natsUrl: NATS_URL,
    mongodbUrl: iso.mongodbUrl,
    namespace: iso.namespace,
    adminToken: ADMIN,
    allowTargets: '127.0.0.0/8,::1/128',
    retrySchedule: '100ms,100ms,100ms',
    deliveryTimeout: '2s',
    logLevel: process.env.HOOKLINE_TEST_LOG ?? 'silent',
    shutdownTimeout: '3s',
  };
  const make = (s: Partial<Record<SettingName, string>>) => {
    const config = loadConfig({ ...base, ...settings, ...s }, {});
    return { config, log: createLogger(config.logLevel) };
  };
  const { config, log } = make({});
  let running: Running = await startHookline(config, log, { registry: true, dispatcher: true });
  const self = {
    namespace: iso.namespace,
    mongodbUrl: iso.mongodbUrl,
    config,
    get url() {
      return running.url as string;
    },
    get running() {
      return running;
    },
    api: (...a: Parameters<ReturnType<typeof apiClient>>) => apiClient(running.url as string)(...a),
    /** Stops and starts again on the same namespace and database (a restart). */
    async restart(extra: Partial<Record<SettingName, string>> = {}) {
      await running.close();
      const next = make(extra);
      running = await startHookline(next.config, next.log, { registry: true, dispatcher: true });
    },
    async close() {
      await running.close();
      await iso.cleanup();
    },
  };
  return self;
}
export type TestHookline = Awaited<ReturnType<typeof startTestHookline>>;

/** Creates a topic and an endpoint for it on `receiverUrl`; returns the endpoint. */
export async function subscribe(
  h: TestHookline,
  topic: string,
  receiverUrl: string,
  extra: Record<string, unknown> = {},
) {
  const t = await h.api('POST', '/v1/topics', { name: topic });
  if (t.status !== 201 && t.status !== 409)
    throw new Error(`topic: ${t.status} ${JSON.stringify(t.body)}`);
  const e = await h.api('POST', '/v1/endpoints', { url: receiverUrl, topics: [topic], ...extra });
  if (e.status !== 201) throw new Error(`endpoint: ${e.status} ${JSON.stringify(e.body)}`);
  return e.body as { id: string; secret: string; status: string };
}
