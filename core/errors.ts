/**
 * Every error a client can see, with its stable code and HTTP status. docs/errors.md
 * lists the same codes; test/unit/errors.test.ts keeps the two in step.
 */
export const ERRORS = {
  unauthorized: { status: 401, message: 'Missing or invalid bearer token.' },
  portal_code_invalid: {
    status: 401,
    message: 'This portal link has expired or was used already; ask for a new one.',
  },
  forbidden: { status: 403, message: 'This token may not do that.' },
  not_found: { status: 404, message: 'Not found.' },
  topic_not_found: { status: 404, message: 'Unknown topic.' },
  endpoint_not_found: { status: 404, message: 'Unknown endpoint.' },
  message_not_found: { status: 404, message: 'Unknown message.' },
  delivery_not_found: { status: 404, message: 'Unknown delivery.' },
  job_not_found: { status: 404, message: 'Unknown job.' },
  malformed_json: { status: 400, message: 'The request body is not valid JSON.' },
  bad_request: { status: 400, message: 'The request is malformed.' },
  payload_too_large: { status: 413, message: 'The request body is larger than the limit.' },
  unsupported_media_type: { status: 415, message: 'Send the body as application/json.' },
  invalid_request: { status: 422, message: 'The request has invalid fields.' },
  endpoint_unreachable: {
    status: 422,
    message: 'The endpoint did not answer the verification request with a 2xx.',
  },
  target_not_allowed: {
    status: 422,
    message: 'The endpoint URL resolves to an address hookline may not reach.',
  },
  invalid_token: { status: 422, message: 'The verification token does not match.' },
  topic_exists: { status: 409, message: 'A topic with this name exists already.' },
  conflict: { status: 409, message: 'The object is not in a state that allows this.' },
  rate_limited: { status: 429, message: 'Too many requests.' },
  publish_failed: {
    status: 503,
    message: 'The event store did not acknowledge the message; nothing was published.',
  },
  unavailable: { status: 503, message: 'A backing service is unavailable; retry shortly.' },
  internal: { status: 500, message: 'Internal error.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  constructor(code: ErrorCode, message?: string, details?: unknown) {
    super(message ?? ERRORS[code].message);
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
  }
}

const UNAVAILABLE_NAMES = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoPoolClearedError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
]);
const UNAVAILABLE_TEXT =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|timed out|\bTIMEOUT\b|no responders/i;

/**
 * Whether an internal error means a backing service (MongoDB, NATS) could not be reached:
 * the request may succeed if retried, so the client gets 503, not 500. Looks through the
 * wrappers the drivers put around the network error (a bulk write's `errorResponse`, a
 * `cause`).
 */
export function isUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 4) return false;
  const e = err as { name?: unknown; message?: unknown; code?: unknown; cause?: unknown };
  if (typeof e.name === 'string' && UNAVAILABLE_NAMES.has(e.name)) return true;
  if (UNAVAILABLE_TEXT.test(`${String(e.code ?? '')} ${String(e.message ?? '')}`)) return true;
  const wrapped = (err as { errorResponse?: unknown }).errorResponse;
  return isUnavailable(e.cause, depth + 1) || isUnavailable(wrapped, depth + 1);
}
