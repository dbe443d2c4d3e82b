import { isIP } from 'node:net';

/** An address as a 128-bit integer; IPv4 lives in the IPv4-mapped range ::ffff:0:0/96. */
export interface Cidr {
  readonly text: string;
  readonly base: bigint;
  readonly bits: number; // prefix length in the 128-bit space
}

const V4_MAPPED = 0xffffn << 32n;

function parseV4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let out = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out = (out << 8n) | BigInt(n);
  }
  return out;
}

function parseV6(text: string): bigint | null {
  let s = text;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  let tailV4: bigint | null = null;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    tailV4 = parseV4(s.slice(lastColon + 1));
    if (tailV4 === null) return null;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  let out = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    out = (out << 16n) | BigInt(Number.parseInt(g, 16));
  }
  if (tailV4 !== null) out = (out & ~0xffffffffn) | tailV4;
  return out;
}

/** Parses an IPv4 or IPv6 address (brackets allowed) into the 128-bit space. */
export function parseAddress(text: string): bigint | null {
  const s = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const family = isIP(s.split('%')[0] ?? '');
  if (family === 4) {
    const v = parseV4(s);
    return v === null ? null : V4_MAPPED | v;
  }
  if (family === 6) return parseV6(s);
  return null;
}

export function parseCidr(text: string): Cidr {
  const [addr, len] = text.trim().split('/');
  const value = addr === undefined ? null : parseAddress(addr);
  if (value === null) throw new Error(`"${text}" is not a CIDR range (example: 10.0.0.0/8)`);
  const isV4 = addr !== undefined && !addr.includes(':');
  const max = isV4 ? 32 : 128;
  const prefix = len === undefined ? max : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new Error(`"${text}" has an invalid prefix length`);
  }
  const bits = isV4 ? prefix + 96 : prefix;
  const mask = bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(128 - bits);
  return { text: text.trim(), base: value & mask, bits };
}

export function inCidr(addr: bigint, cidr: Cidr): boolean {
  if (cidr.bits === 0) return true;
  const shift = BigInt(128 - cidr.bits);
  return addr >> shift === cidr.base >> shift;
}

/**
 * Ranges an endpoint may not reach unless HOOKLINE_ALLOW_TARGETS lists them: everything
 * that is not a public unicast address.
 */
const DENIED_TEXT = [
  ['0.0.0.0/8', 'this network'],
  ['10.0.0.0/8', 'private (RFC 1918)'],
  ['100.64.0.0/10', 'carrier-grade NAT'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local (cloud metadata)'],
  ['172.16.0.0/12', 'private (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', '6to4 relay anycast'],
  ['192.168.0.0/16', 'private (RFC 1918)'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['64:ff9b::/96', 'NAT64'],
  ['64:ff9b:1::/48', 'local NAT64'],
  ['100::/64', 'discard-only'],
  ['2001::/32', 'Teredo'],
  ['2001:db8::/32', 'documentation'],
  ['2002::/16', '6to4'],
  ['fc00::/7', 'unique local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
  ['::/96', 'IPv4-compatible'],
] as const;

const DENIED = DENIED_TEXT.map(([c, why]) => ({ cidr: parseCidr(c), why }));

/** Returns why an address is refused, or null when it is a public address. */
export function deniedReason(address: string, allow: readonly Cidr[] = []): string | null {
  const value = parseAddress(address);
  if (value === null) return 'not an IP address';
  if (allow.some((c) => inCidr(value, c))) return null;
  for (const { cidr, why } of DENIED) if (inCidr(value, cidr)) return why;
  return null;
}

export function parseAllowList(text: string): Cidr[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(parseCidr);
}
