import { Pool } from 'undici';

/**
 * The few Docker Engine API calls the sidecar makes, all reads: list containers, inspect
 * one, follow its logs, follow events. Works with Docker and with Podman's compatible API.
 */
export interface ContainerSummary {
  Id: string;
  Names?: string[];
  Labels?: Record<string, string> | null;
  State?: string;
}

export interface ContainerInfo {
  Id: string;
  Name: string;
  Config: { Tty: boolean; Labels?: Record<string, string> | null };
  State: { Running: boolean; Status?: string };
}

export interface DockerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

export class DockerApiError extends Error {
  override name = 'DockerApiError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** `unix:///var/run/docker.sock`, `tcp://host:2375` or `http://host:2375`. */
export function createDockerApi(host: string) {
  // A pool, not one connection: log and event streams hold their connection open for as
  // long as they run, and every followed container has one.
  let client: Pool;
  const common = { bodyTimeout: 0, headersTimeout: 30_000, connections: 256 };
  if (host.startsWith('unix://')) {
    client = new Pool('http://docker', { ...common, socketPath: host.slice('unix://'.length) });
  } else if (/^(tcp|http):\/\//.test(host)) {
    client = new Pool(host.replace(/^tcp:/, 'http:'), common);
  } else {
    throw new Error(
      `HOOKLINE_DOCKER_HOST "${host}" is not unix://PATH, tcp://HOST:PORT or http://HOST:PORT`,
    );
  }

  async function get(path: string, signal?: AbortSignal) {
    const res = await client.request({ method: 'GET', path, ...(signal ? { signal } : {}) });
    if (res.statusCode !== 200) {
      const text = await res.body.text().catch(() => '');
      throw new DockerApiError(
        `Docker API ${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`,
        res.statusCode,
      );
    }
    return res;
  }

  async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
    const res = await get(path, signal);
    return (await res.body.json()) as T;
  }

  const filters = (f: Record<string, string[]>) => encodeURIComponent(JSON.stringify(f));

  return {
    listContainers(label: string, signal?: AbortSignal): Promise<ContainerSummary[]> {
      return getJson(`/containers/json?filters=${filters({ label: [label] })}`, signal);
    },
    inspect(id: string, signal?: AbortSignal): Promise<ContainerInfo> {
      return getJson(`/containers/${encodeURIComponent(id)}/json`, signal);
    },
    /** The raw log stream: multiplexed frames unless the container has a TTY. */
    async logs(id: string, sinceSec: number, signal: AbortSignal): Promise<AsyncIterable<Buffer>> {
      const q = `follow=1&stdout=1&stderr=1&timestamps=1&since=${sinceSec}`;
      const res = await get(`/containers/${encodeURIComponent(id)}/logs?${q}`, signal);
      return res.body as AsyncIterable<Buffer>;
    },
    /** Container events, one JSON object per line, until the stream is aborted. */
    async events(label: string, signal: AbortSignal): Promise<AsyncIterable<Buffer>> {
      const res = await get(
        `/events?filters=${filters({ type: ['container'], label: [label] })}`,
        signal,
      );
      return res.body as AsyncIterable<Buffer>;
    },
    close: () => client.close(),
  };
}
export type DockerApi = ReturnType<typeof createDockerApi>;

/**
 * Splits Docker's multiplexed log stream: frames of an 8-byte header (stream type,
 * three zero bytes, big-endian payload length) and the payload. Keeps partial frames
 * across chunks. Calls `onPayload(stream, bytes)` for each frame.
 */
const MAX_FRAME = 4 * 1024 * 1024;

export class Demuxer {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer, onPayload: (stream: number, payload: Buffer) => void): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      // Docker writes a frame per line; a frame this large means the stream is not framed.
      if (size > MAX_FRAME) throw new Error(`log frame of ${size} bytes: not a multiplexed stream`);
      if (this.buf.length < 8 + size) break;
      onPayload(this.buf[0] ?? 1, this.buf.subarray(8, 8 + size));
      this.buf = this.buf.subarray(8 + size);
    }
  }

  get buffered(): number {
    return this.buf.length;
  }
}
