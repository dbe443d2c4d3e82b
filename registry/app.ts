import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
} from 'fastify';
import { ApiError, ERRORS, isUnavailable } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { createBodyDrain } from './body-limit.js';
import { createAuthenticator } from './principal.js';
import { principalRoutes } from './routes/principals.js';
import type { RegistryDeps } from './context.js';
import { createMetrics } from './metrics.js';
import type { Registry } from 'prom-client';
import { deliveryRoutes } from './routes/deliveries.js';
import { endpointRoutes } from './routes/endpoints.js';
import { healthRoutes } from './routes/health.js';
import { messageRoutes } from './routes/messages.js';
import { topicRoutes } from './routes/topics.js';
import { createJobs } from './jobs.js';
import { createPortal } from './portal.js';
import { jobRoutes } from './routes/jobs.js';
import { portalExchangeRoutes, portalRoutes } from './routes/portal.js';
import { statsRoutes } from './routes/stats.js';
import { createStats } from './stats.js';

export type App = FastifyInstance;

/**
 * Builds the registry's HTTP app. It owns no connection: the caller creates MongoDB, NATS
 * and the egress agent, and closes them after `app.close()`.
 */
export function buildRegistry(
  deps: RegistryDeps,
  options: { adminHash: string; metricsRegistry?: Registry },
): App {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'registry' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.config.maxBodyBytes,
    genReqId: () => newId('req'),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only; an empty body is allowed (action routes such as /rotate-secret take none).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: deps.config.maxBodyBytes },
    (_req, body, done) => {
      const text = body as string;
      if (text.trim() === '') return done(null, undefined);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        done(
          new ApiError(
            'malformed_json',
            `The request body is not valid JSON: ${(err as Error).message}`,
          ),
          undefined,
        );
        return;
      }
      const shape = jsonShapeProblem(value);
      if (shape) {
        done(new ApiError('invalid_request', `body: ${shape}`), undefined);
        return;
      }
      done(null, value);
    },
  );

  // A refused body's connection ends only once the rest of the body has been read (bounded).
  const bodyDrain = createBodyDrain(deps.config.maxBodyBytes);
  app.addHook('preClose', async () => bodyDrain.close());

  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    const body = toErrorBody(err);
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') bodyDrain.afterRefusal(req.raw, reply.raw);
    if (body.status >= 500) req.log.error({ err, reqId: req.id }, 'request failed');
    const retryAfter = (body.extra.details as { retry_after?: number } | undefined)?.retry_after;
    if (body.status === 429 && retryAfter) void reply.header('retry-after', String(retryAfter));
    void reply.status(body.status).send({
      error: { code: body.code, message: body.message, request_id: req.id, ...body.extra },
    });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({
      error: {
        code: 'not_found',
        message: `No route for ${req.method} ${req.url}`,
        request_id: req.id,
      },
    });
  });

  const metrics = createMetrics(options.metricsRegistry);
  app.addHook('onResponse', async (req, reply) => {
    metrics.httpRequests.inc({
      method: req.method,
      route: req.routeOptions.url ?? 'unknown',
      status: String(reply.statusCode),
    });
  });

  const auth = createAuthenticator(deps.mongo, options.adminHash, deps.config.apiRateLimit);
  const portal = createPortal(deps);
  const jobs = createJobs(deps);
  const stats = createStats(deps);
  // Jobs under way record where they stopped before the caller closes MongoDB.
  app.addHook('onClose', async () => jobs.close());

  void app.register(healthRoutes(deps, metrics));
  void app.register(
    async (v1) => {
      v1.decorateRequest('principal', null as never);
      v1.addHook('onRequest', auth.hook);
      await v1.register(principalRoutes(deps, portal));
      await v1.register(topicRoutes(deps));
      await v1.register(endpointRoutes(deps));
      await v1.register(messageRoutes(deps, metrics));
      await v1.register(deliveryRoutes(deps));
      await v1.register(jobRoutes(deps, jobs));
      await v1.register(statsRoutes(deps, stats));
      await v1.register(portalRoutes(deps, portal, auth));
    },
    { prefix: '/v1' },
  );
  // Outside the authenticated scope: a portal link's code is exchanged without a token.
  void app.register(portalExchangeRoutes(portal), { prefix: '/v1' });
  return app as unknown as App;
}

function toErrorBody(err: FastifyError | ApiError): {
  status: number;
  code: string;
  message: string;
  extra: Record<string, unknown>;
} {
  if (err instanceof ApiError) {
    return {
      status: err.status,
      code: err.code,
      message: err.message,
      extra: err.details === undefined ? {} : { details: err.details },
    };
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    const where = fe.validationContext === 'body' ? 'body' : (fe.validationContext ?? 'request');
    const first = fe.validation[0];
    const path = first?.instancePath
      ? first.instancePath.replace(/^\//, '').replace(/\//g, '.')
      : '';
    const prefix = path ? `${path}.` : '';
    const field =
      first?.keyword === 'required'
        ? prefix + String((first.params as { missingProperty?: string }).missingProperty)
        : first?.keyword === 'additionalProperties'
          ? prefix + String((first.params as { additionalProperty?: string }).additionalProperty)
          : path;
    const what =
      first?.keyword === 'additionalProperties'
        ? 'is not a known field'
        : (first?.message ?? 'is invalid');
    const message = field
      ? `${where}: ${field} ${first?.keyword === 'required' ? 'is required' : what}`
      : `${where}: ${what}`;
    return { status: 422, code: 'invalid_request', message, extra: {} };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        code: 'payload_too_large',
        message: ERRORS.payload_too_large.message,
        extra: {},
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        code: 'unsupported_media_type',
        message: ERRORS.unsupported_media_type.message,
        extra: {},
      };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return {
        status: 400,
        code: 'bad_request',
        message: 'Content-Length does not match the body.',
        extra: {},
      };
  }
  const status = fe.statusCode ?? 500;
  if (status === 429)
    return { status, code: 'rate_limited', message: ERRORS.rate_limited.message, extra: {} };
  if (status >= 400 && status < 500) {
    return { status, code: 'bad_request', message: fe.message, extra: {} };
  }
  if (isUnavailable(err)) {
    return { status: 503, code: 'unavailable', message: ERRORS.unavailable.message, extra: {} };
  }
  return { status: 500, code: 'internal', message: ERRORS.internal.message, extra: {} };
}

/** Limits on the shape of a JSON body: how deep it nests, and how many values it holds. */
const MAX_JSON_DEPTH = 32;
const MAX_JSON_VALUES = 100_000;

export function jsonShapeProblem(value: unknown): string | null {
  let count = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (++count > MAX_JSON_VALUES) return `the JSON holds more than ${MAX_JSON_VALUES} values`;
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_JSON_DEPTH) return `the JSON nests deeper than ${MAX_JSON_DEPTH} levels`;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return null;
}
