import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * Serves the web UI built by Vite (registry/ui → dist/ui): the console at `/` and the
 * subscriber portal at `/portal`, same origin as the API. Only files of the build are
 * served, each client route answers with its page (the SPA fallback), and every answer
 * carries a Content-Security-Policy that allows nothing but this origin: no inline script
 * or style, no CDN, no frame unless HOOKLINE_PORTAL_FRAME_ANCESTORS names the embedder.
 * `/v1`, `/healthz`, `/readyz` and `/metrics` are not touched.
 */

/** The console's client routes (registry/ui/src/console/app.tsx). */
export const CONSOLE_ROUTES = [
  '/',
  '/topics',
  '/topics/*',
  '/endpoints',
  '/endpoints/*',
  '/messages',
  '/messages/*',
  '/deliveries',
  '/deliveries/*',
  '/subscribers',
  '/publishers',
] as const;
export const PORTAL_ROUTES = ['/portal', '/portal/*'] as const;

export interface UiOptions {
  /** The built UI; found next to this module (dist/ui) when not given. */
  dir?: string | null;
  /** Origins allowed to frame the portal (`frame-ancestors`); none by default. */
  portalFrameAncestors?: readonly string[] | string;
}

/** Where `vite build` put the UI: dist/ui beside dist/registry, or beside the sources. */
export function findUiDir(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [join(here, '..', 'ui'), join(here, '..', 'dist', 'ui')]) {
    if (existsSync(join(dir, '.vite', 'manifest.json'))) return dir;
  }
  return null;
}

/** A CSP source list from the setting: origins only, anything else is dropped. */
export function frameAncestors(value: readonly string[] | string | undefined): string {
  const items = (typeof value === 'string' ? value.split(/[\s,]+/) : (value ?? []))
    .map((s) => s.trim())
    .filter((s) => /^(https?:\/\/(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?|'self')$/.test(s));
  return items.length === 0 ? "'none'" : items.join(' ');
}

export function contentSecurityPolicy(ancestors: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${ancestors}`,
  ].join('; ');
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>hookline</title>
<h1>The web UI is not built</h1><p>Run <code>npm run build</code>, then reload. The API is at <code>/v1</code>.</p>`;

export function uiRoutes(options: UiOptions = {}) {
  const dir = options.dir === undefined ? findUiDir() : options.dir;
  const consoleCsp = contentSecurityPolicy("'none'");
  const portalCsp = contentSecurityPolicy(frameAncestors(options.portalFrameAncestors));
  const pages = new Map<string, string>();
  const page = (name: 'index.html' | 'portal.html'): string => {
    if (!dir) return NOT_BUILT;
    let html = pages.get(name);
    if (html === undefined) {
      html = readFileSync(join(dir, name), 'utf8');
      pages.set(name, html);
    }
    return html;
  };
  const common = (reply: FastifyReply, csp: string) =>
    reply
      .header('content-security-policy', csp)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer');

  return async (app: FastifyInstance) => {
    const send =
      (name: 'index.html' | 'portal.html', csp: string) =>
      async (_req: unknown, reply: FastifyReply) => {
        common(reply, csp)
          .header('cache-control', 'no-cache')
          .type('text/html; charset=utf-8')
          .status(dir ? 200 : 503);
        // The console is never framed; the portal may be, by the origins its CSP names.
        if (name === 'index.html')
          void reply
            .header('x-frame-options', 'DENY')
            .header('cross-origin-resource-policy', 'same-origin');
        return reply.send(page(name));
      };
    for (const url of CONSOLE_ROUTES) app.get(url, send('index.html', consoleCsp));
    for (const url of PORTAL_ROUTES) app.get(url, send('portal.html', portalCsp));
    if (!dir) return;
    // Hashed file names: cached for good. The favicon is the one unhashed file here.
    await app.register(fastifyStatic, {
      root: join(dir, 'assets'),
      prefix: '/assets/',
      wildcard: true,
      index: false,
      redirect: false,
      dotfiles: 'deny',
      decorateReply: false,
      cacheControl: false,
      setHeaders: (reply, path) => {
        common(reply, consoleCsp)
          .header('cross-origin-resource-policy', 'same-origin')
          .header(
            'cache-control',
            path.endsWith('favicon.svg')
              ? 'public, max-age=3600'
              : 'public, max-age=31536000, immutable',
          );
      },
    });
  };
}
