/**
 * The typed client of hookline's public `/v1` API, shared by the CLI (Node.js) and the web
 * UI (the browser): fetch only, no Node-only import. Object types derive from the
 * registry's views where one exists, so client and server cannot drift apart.
 */
import type {
  attemptView,
  deliveryView,
  endpointView,
  messageView,
  topicView,
} from '../registry/views.js';

export type Topic = ReturnType<typeof topicView>;
export type Endpoint = ReturnType<typeof endpointView>;
export type Message = ReturnType<typeof messageView>;
export type Delivery = ReturnType<typeof deliveryView>;
export type Attempt = ReturnType<typeof attemptView>;
export type EndpointStatus = Endpoint['status'];
export type DeliveryStatus = Delivery['status'];

export interface Principal {
  id: string;
  name: string;
  created_at: string;
  revoked_at: string | null;
}
export type Publisher = Principal & { token?: string };
export type Subscriber = Principal & { api_key?: string };

/** Who the token belongs to (`GET /v1/me`); `portal` for a portal session's token. */
export interface Me {
  kind: 'admin' | 'publisher' | 'subscriber';
  id: string;
  name: string;
  expires_at: string | null;
  portal: boolean;
}

export interface List<T> {
  data: T[];
  next_cursor: string | null;
}

export interface PortalLink {
  url: string;
  expires_at: string;
}
export interface PortalSession {
  token: string;
  expires_at: string;
  subscriber: { id: string; name: string };
}

export interface StatsPoint {
  t: string;
  succeeded: number;
  failed: number;
  avg_ms: number | null;
}
export interface Stats {
  from: string;
  to: string;
  bucket: StatsBucket;
  series: StatsPoint[];
  totals: { succeeded: number; failed: number };
  backlog: { pending: number; parked: number | null; failed: number };
  failing_endpoints: Array<{
    endpoint_id: string;
    url: string | null;
    failed: number;
    succeeded: number;
    last_error: string | null;
  }>;
}

export interface Job {
  id: string;
  kind: 'retry';
  status: 'running' | 'done' | 'failed';
  total: number;
  done: number;
  errors: number;
  created_at: string;
  finished_at: string | null;
}

export interface EndpointSecret {
  secret: string;
  /** Earlier secrets that still sign beside it, until they expire (after a rotation). */
  previous: Array<{ secret: string; expires_at: string | null }>;
}

export interface TestEvent {
  message: Message;
  delivery: Delivery;
}

export interface Page {
  limit?: number;
  cursor?: string | null;
}
export interface EndpointQuery extends Page {
  url?: string;
  status?: EndpointStatus;
  owner_id?: string;
  topic?: string;
}
export interface MessageQuery extends Page {
  topic?: string;
  idempotency_key?: string;
  from?: string;
  to?: string;
}
export interface DeliveryFilter {
  status?: DeliveryStatus;
  endpoint_id?: string;
  message_id?: string;
  topic?: string;
  from?: string;
  to?: string;
}
export type DeliveryQuery = DeliveryFilter & Page;
export type StatsBucket = '1m' | '5m' | '1h' | '1d';
export interface StatsQuery {
  from?: string;
  to?: string;
  bucket?: StatsBucket;
  endpoint_id?: string;
}

export interface NewEndpoint {
  url: string;
  topics: string[];
  description?: string;
  rate_limit?: number | null;
  headers?: Record<string, string>;
}
export type EndpointChange = Partial<NewEndpoint>;

/** An answer outside 2xx, with the API's `{"error":{"code","message"}}` when it sent one. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null = null,
    readonly details: unknown = undefined,
  ) {
    super(message);
  }
  /** `404 endpoint_not_found: Unknown endpoint "ep_1".` */
  describe(): string {
    return `${this.status} ${this.code}: ${this.message}`;
  }
}

export interface ClientOptions {
  /** Where the registry is; '' for the same origin (the browser). */
  baseUrl?: string;
  /** The bearer token, or a function read on every request (it may change after sign-in). */
  token?: string | null | (() => string | null);
  fetch?: typeof fetch;
  /** Called before an ApiError with status 401 is thrown (the UI goes back to sign-in). */
  onUnauthorized?: (err: ApiError) => void;
}

type Query = Record<string, string | number | null | undefined>;

export function queryString(params: Query = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

const seg = (id: string) => encodeURIComponent(id);

export function createApiClient(options: ClientOptions = {}) {
  const base = (options.baseUrl ?? '').replace(/\/+$/, '');
  const doFetch = options.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const tokenOf = () =>
    typeof options.token === 'function' ? options.token() : (options.token ?? null);

  async function request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const token = tokenOf();
    const res = await doFetch(base + path, {
      method,
      headers: {
        accept: 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? null : JSON.stringify(body),
    });
    if (res.status === 204) return null as T;
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    if (!res.ok) {
      const e = (parsed as { error?: Record<string, unknown> } | null)?.error;
      const err = new ApiError(
        res.status,
        typeof e?.code === 'string' ? e.code : `http_${res.status}`,
        typeof e?.message === 'string' ? e.message : text || res.statusText,
        typeof e?.request_id === 'string' ? e.request_id : null,
        e?.details,
      );
      if (res.status === 401) options.onUnauthorized?.(err);
      throw err;
    }
    return parsed as T;
  }
  const get = <T>(path: string, q?: object) => request<T>('GET', path + queryString(q as Query));
  const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body);

  return {
    request,
    me: () => get<Me>('/v1/me'),
    topics: {
      list: (q: Page = {}) => get<List<Topic>>('/v1/topics', q),
      get: (name: string) => get<Topic>(`/v1/topics/${seg(name)}`),
      create: (body: { name: string; description?: string }) => post<Topic>('/v1/topics', body),
    },
    publishers: {
      list: (q: Page = {}) => get<List<Publisher>>('/v1/publishers', q),
      create: (name: string) => post<Publisher>('/v1/publishers', { name }),
      revoke: (id: string) => request<null>('DELETE', `/v1/publishers/${seg(id)}`),
    },
    subscribers: {
      list: (q: Page = {}) => get<List<Subscriber>>('/v1/subscribers', q),
      get: (id: string) => get<Subscriber>(`/v1/subscribers/${seg(id)}`),
      create: (name: string) => post<Subscriber>('/v1/subscribers', { name }),
      revoke: (id: string) => request<null>('DELETE', `/v1/subscribers/${seg(id)}`),
      portalLink: (id: string) => post<PortalLink>(`/v1/subscribers/${seg(id)}/portal-links`),
    },
    portal: {
      /** Exchanges a portal link's single-use code for a session token (no token needed). */
      exchange: (code: string) => post<PortalSession>('/v1/portal/sessions', { code }),
      signOut: () => request<null>('DELETE', '/v1/portal/sessions/current'),
    },
    endpoints: {
      list: (q: EndpointQuery = {}) => get<List<Endpoint>>('/v1/endpoints', q),
      get: (id: string) => get<Endpoint>(`/v1/endpoints/${seg(id)}`),
      create: (body: NewEndpoint) => post<Endpoint>('/v1/endpoints', body),
      update: (id: string, body: EndpointChange) =>
        request<Endpoint>('PATCH', `/v1/endpoints/${seg(id)}`, body),
      remove: (id: string) => request<null>('DELETE', `/v1/endpoints/${seg(id)}`),
      verify: (id: string, token: string) =>
        post<Endpoint>(`/v1/endpoints/${seg(id)}/verify`, { token }),
      rotateSecret: (id: string) => post<Endpoint>(`/v1/endpoints/${seg(id)}/rotate-secret`),
      enable: (id: string) => post<Endpoint>(`/v1/endpoints/${seg(id)}/enable`),
      disable: (id: string) => post<Endpoint>(`/v1/endpoints/${seg(id)}/disable`),
      secret: (id: string) => get<EndpointSecret>(`/v1/endpoints/${seg(id)}/secret`),
      test: (id: string, body: { topic?: string; data?: unknown } = {}) =>
        post<TestEvent>(`/v1/endpoints/${seg(id)}/test`, body),
    },
    messages: {
      list: (q: MessageQuery = {}) => get<List<Message>>('/v1/messages', q),
      get: (id: string) => get<Message>(`/v1/messages/${seg(id)}`),
      deliveries: (id: string, q: Page = {}) =>
        get<List<Delivery>>(`/v1/messages/${seg(id)}/deliveries`, q),
      publish: (body: { topic: string; data: unknown }, idempotencyKey?: string) =>
        request<Message>(
          'POST',
          '/v1/messages',
          body,
          idempotencyKey ? { 'idempotency-key': idempotencyKey } : {},
        ),
    },
    deliveries: {
      list: (q: DeliveryQuery = {}) => get<List<Delivery>>('/v1/deliveries', q),
      get: (id: string) => get<Delivery>(`/v1/deliveries/${seg(id)}`),
      attempts: (id: string, q: Page = {}) =>
        get<List<Attempt>>(`/v1/deliveries/${seg(id)}/attempts`, q),
      retry: (id: string) => post<Delivery>(`/v1/deliveries/${seg(id)}/retry`),
      /** Retries every failed delivery matching the filter, as a job (`jobs.get`). */
      retryAll: (filter: DeliveryFilter) =>
        post<Job>('/v1/deliveries/retry', { ...filter, status: 'failed' }),
    },
    jobs: { get: (id: string) => get<Job>(`/v1/jobs/${seg(id)}`) },
    stats: (q: StatsQuery = {}) => get<Stats>('/v1/stats', q),
  };
}

export type ApiClient = ReturnType<typeof createApiClient>;
