import { parseDuration, parseSchedule } from './duration.js';
import { type Cidr, parseAllowList } from './netaddr.js';

/**
 * Every setting in one table: its flag, its HOOKLINE_* variable, its default and its
 * parser. `loadConfig` is the only function that reads the environment; everything
 * else receives the frozen result.
 */
const SETTINGS = {
  addr: { env: 'HOOKLINE_ADDR', def: '127.0.0.1:8080', parse: parseAddr },
  natsUrl: { env: 'HOOKLINE_NATS_URL', def: 'nats://127.0.0.1:4222', parse: parseNatsUrls },
  mongodbUrl: {
    env: 'HOOKLINE_MONGODB_URL',
    def: 'mongodb://127.0.0.1:27017/hookline',
    parse: parseMongoUrl,
  },
  namespace: { env: 'HOOKLINE_NAMESPACE', def: 'hookline', parse: parseNamespace },
  adminToken: { env: 'HOOKLINE_ADMIN_TOKEN', def: '', parse: (s: string) => s },
  encryptionKey: { env: 'HOOKLINE_ENCRYPTION_KEY', def: '', parse: (s: string) => s },
  keyFile: { env: 'HOOKLINE_KEY_FILE', def: '.hookline/encryption.key', parse: (s: string) => s },
  allowTargets: { env: 'HOOKLINE_ALLOW_TARGETS', def: '', parse: parseAllowList },
  verifyEndpoints: { env: 'HOOKLINE_VERIFY_ENDPOINTS', def: 'true', parse: parseBool },
  retrySchedule: {
    env: 'HOOKLINE_RETRY_SCHEDULE',
    def: '5s,5m,30m,2h,5h,10h,10h',
    parse: parseSchedule,
  },
  dockerHost: {
    env: 'HOOKLINE_DOCKER_HOST',
    def: 'unix:///var/run/docker.sock',
    parse: (s: string) => s,
  },
  url: {
    env: 'HOOKLINE_URL',
    def: 'http://127.0.0.1:8080',
    parse: (s: string) => s.replace(/\/+$/, ''),
  },
  token: { env: 'HOOKLINE_TOKEN', def: '', parse: (s: string) => s },
  logLevel: { env: 'HOOKLINE_LOG_LEVEL', def: 'info', parse: parseLogLevel },
  deliveryTimeout: { env: 'HOOKLINE_DELIVERY_TIMEOUT', def: '15s', parse: parseDuration },
  maxBodyBytes: { env: 'HOOKLINE_MAX_BODY_BYTES', def: '1048576', parse: parsePositiveInt },
  retention: { env: 'HOOKLINE_RETENTION', def: '30d', parse: parseDuration },
  apiRateLimit: { env: 'HOOKLINE_API_RATE_LIMIT', def: '1000', parse: parsePositiveInt },
  concurrency: { env: 'HOOKLINE_CONCURRENCY', def: '256', parse: parsePositiveInt },
  streamReplicas: { env: 'HOOKLINE_STREAM_REPLICAS', def: '1', parse: parsePositiveInt },
  endpointConcurrency: { env: 'HOOKLINE_ENDPOINT_CONCURRENCY', def: '16', parse: parsePositiveInt },
  breakerThreshold: { env: 'HOOKLINE_BREAKER_THRESHOLD', def: '5', parse: parsePositiveInt },
  parkAfter: { env: 'HOOKLINE_PARK_AFTER', def: '10s', parse: parseDuration },
  disableAfter: { env: 'HOOKLINE_DISABLE_AFTER', def: '5d', parse: parseDuration },
  metricsAddr: {
    env: 'HOOKLINE_METRICS_ADDR',
    def: '',
    parse: (s: string) => (s === '' ? null : parseAddr(s)),
  },
  resyncInterval: { env: 'HOOKLINE_RESYNC_INTERVAL', def: '60s', parse: parseDuration },
  shutdownTimeout: { env: 'HOOKLINE_SHUTDOWN_TIMEOUT', def: '7s', parse: parseDuration },
  publicUrl: { env: 'HOOKLINE_PUBLIC_URL', def: '', parse: parsePublicUrl },
  portalCodeTtl: { env: 'HOOKLINE_PORTAL_CODE_TTL', def: '10m', parse: parseDuration },
  portalSessionTtl: { env: 'HOOKLINE_PORTAL_SESSION_TTL', def: '8h', parse: parseDuration },
  portalFrameAncestors: {
    env: 'HOOKLINE_PORTAL_FRAME_ANCESTORS',
    def: '',
    parse: parseFrameAncestors,
  },
  crashAt: { env: 'HOOKLINE_TEST_CRASH_AT', def: '', parse: (s: string) => s },
} as const;

type Settings = typeof SETTINGS;
export type Config = Readonly<{ [K in keyof Settings]: ReturnType<Settings[K]['parse']> }>;
export type SettingName = keyof Settings;

export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

/** `natsUrl` → `--nats-url` */
export function flagName(name: SettingName): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function settingsTable(): { flag: string; env: string; def: string }[] {
  return SETTING_NAMES.map((n) => ({
    flag: `--${flagName(n)}`,
    env: SETTINGS[n].env,
    def: SETTINGS[n].def,
  }));
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Flags win over variables, variables over defaults. Throws ConfigError naming the setting. */
export function loadConfig(
  flags: Partial<Record<SettingName, string>> = {},
  env: NodeJS.ProcessEnv = process.env,
): Config {
  const out: Record<string, unknown> = {};
  for (const name of SETTING_NAMES) {
    const s = SETTINGS[name];
    const raw = flags[name] ?? env[s.env] ?? s.def;
    try {
      out[name] = s.parse(raw);
    } catch (err) {
      throw new ConfigError(`--${flagName(name)} / ${s.env}: ${(err as Error).message}`);
    }
  }
  return Object.freeze(out) as Config;
}

function parseAddr(s: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`"${s}" is not host:port`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`port ${port} is out of range`);
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '') || '0.0.0.0';
  return { host, port };
}

function parseNatsUrls(s: string): string[] {
  const urls = s
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (urls.length === 0) throw new Error('no NATS server given');
  return urls;
}

function parseMongoUrl(s: string): string {
  if (!/^mongodb(\+srv)?:\/\//.test(s)) throw new Error(`"${s}" is not a mongodb:// URL`);
  return s;
}

function parseNamespace(s: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(s)) {
    throw new Error(
      'use 1 to 64 letters, digits, "_" or "-" (it prefixes stream and subject names)',
    );
  }
  return s;
}

function parseBool(s: string): boolean {
  if (/^(true|1|yes|on)$/i.test(s)) return true;
  if (/^(false|0|no|off)$/i.test(s)) return false;
  throw new Error(`"${s}" is not true or false`);
}

function parsePositiveInt(s: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1) throw new Error(`"${s}" is not a positive whole number`);
  return Number(s);
}

function parseLogLevel(
  s: string,
): 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' {
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
  const found = levels.find((l) => l === s);
  if (!found) throw new Error(`"${s}" is not one of ${levels.join(', ')}`);
  return found;
}

/** Where people reach the registry (links are built on it): empty, or an http(s) URL. */
function parsePublicUrl(s: string): string {
  if (s.trim() === '') return '';
  let u: URL;
  try {
    u = new URL(s.trim());
  } catch {
    throw new Error(`"${s}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new Error(`"${s}" is not an http or https URL`);
  if (u.search || u.hash || u.username || u.password)
    throw new Error(`"${s}" must not carry a query, fragment or credentials`);
  return u.href.replace(/\/+$/, '');
}

/**
 * The sources a page may be framed by (CSP `frame-ancestors`): origins such as
 * `https://books.example` or `https://*.example.com`, or `'self'`; comma or space separated.
 */
function parseFrameAncestors(s: string): readonly string[] {
  const sources = s.split(/[\s,]+/).filter(Boolean);
  for (const src of sources) {
    if (src === "'self'") continue;
    if (!/^https?:\/\/(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$/.test(src))
      throw new Error(`"${src}" is not an origin (https://host[:port]) or 'self'`);
  }
  return Object.freeze(sources);
}

export type { Cidr };
