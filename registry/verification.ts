import { timingSafeEqual } from 'node:crypto';
import { postJson } from '../core/egress.js';
import { ApiError } from '../core/errors.js';
import { newId, randomToken } from '../core/ids.js';
import { parseAddress, deniedReason } from '../core/netaddr.js';
import { secretKey, signatureHeader } from '../core/signing.js';
import type { RegistryDeps } from './context.js';

/** Checks a URL's shape and, for IP literals, its address. Names are checked at connect time. */
export function checkUrl(deps: RegistryDeps, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ApiError('invalid_request', `body: url "${raw.slice(0, 200)}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ApiError('invalid_request', 'body: url must use http or https');
  }
  if (url.username || url.password) {
    throw new ApiError('invalid_request', 'body: url must not contain credentials');
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (parseAddress(host) !== null) {
    const why = deniedReason(host, deps.config.allowTargets);
    if (why) {
      throw new ApiError(
        'target_not_allowed',
        `The endpoint URL points at ${host} (${why}); set HOOKLINE_ALLOW_TARGETS to allow it.`,
      );
    }
  }
  return url;
}

export type VerificationOutcome = { status: 'active' } | { status: 'pending'; token: string };

/**
 * The registration handshake: POST a signed `endpoint.verification` event carrying a token.
 * A 2xx echoing the token activates the endpoint; a 2xx without it leaves the endpoint
 * pending until the subscriber sends the token back; anything else refuses the endpoint.
 */
/** Headers hookline sets itself: an endpoint's own headers may not name them. */
const RESERVED =
  /^(content-type|content-length|content-encoding|host|connection|keep-alive|transfer-encoding|te|trailer|upgrade|expect|user-agent|proxy-.*|webhook-.*)$/i;

export function checkHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (RESERVED.test(name)) {
      throw new ApiError(
        'invalid_request',
        `body: headers.${name} is set by hookline and cannot be given`,
      );
    }
    out[name.toLowerCase()] = value;
  }
  return out;
}

export async function verifyEndpoint(
  deps: RegistryDeps,
  url: string,
  secret: string,
  headers: Record<string, string> = {},
): Promise<VerificationOutcome> {
  const token = randomToken('vt');
  const id = newId('msg');
  const body = JSON.stringify({
    type: 'endpoint.verification',
    timestamp: new Date().toISOString(),
    data: { token },
  });
  const ts = Math.floor(Date.now() / 1000);
  const res = await postJson(
    deps.agent,
    url,
    {
      'webhook-id': id,
      'webhook-timestamp': String(ts),
      'webhook-signature': signatureHeader([secretKey(secret)], id, ts, body),
    },
    body,
    {
      timeoutMs: Math.min(deps.config.deliveryTimeout, 10_000),
      maxResponseBytes: 16_384,
      extraHeaders: headers,
    },
  );
  if (res.denied) {
    throw new ApiError(
      'target_not_allowed',
      `Refused to contact the endpoint: ${res.error}. Set HOOKLINE_ALLOW_TARGETS to allow it.`,
    );
  }
  if (res.statusCode === null) {
    throw new ApiError('endpoint_unreachable', `The verification request failed: ${res.error}.`);
  }
  if (res.statusCode < 200 || res.statusCode > 299) {
    throw new ApiError(
      'endpoint_unreachable',
      `The endpoint answered the verification request with HTTP ${res.statusCode}; a 2xx is required.`,
    );
  }
  let echoed: unknown;
  try {
    echoed = (JSON.parse(res.body) as { token?: unknown }).token;
  } catch {
    echoed = undefined;
  }
  if (typeof echoed === 'string' && tokensEqual(echoed, token)) return { status: 'active' };
  return { status: 'pending', token };
}

export function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
