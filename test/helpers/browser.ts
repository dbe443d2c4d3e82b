import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

const ROOT = join(import.meta.dirname, '..', '..');
export const SCREENSHOTS = join(ROOT, '.cache', 'screenshots');
export const CHROMIUM = process.env.HOOKLINE_TEST_CHROMIUM ?? '/usr/bin/chromium';

function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((n) => newest(join(path, n))));
}

function uiFresh(): boolean {
  const manifest = join(ROOT, 'dist', 'ui', '.vite', 'manifest.json');
  const sources = Math.max(
    newest(join(ROOT, 'registry', 'ui')),
    newest(join(ROOT, 'core', 'api-client.ts')),
    newest(join(ROOT, 'registry', 'views.ts')),
  );
  return existsSync(manifest) && statSync(manifest).mtimeMs >= sources;
}

/**
 * Builds the UI (vite) when dist/ui is missing or older than its sources. Test files run
 * two at a time: a lock directory keeps a second from building over the first.
 */
export function ensureUiBuilt(): void {
  if (uiFresh()) return;
  const lock = join(ROOT, '.cache', 'ui-build.lock');
  mkdirSync(dirname(lock), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${lock} held for 3 minutes: remove it`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (uiFresh()) return;
    const r = spawnSync('npm', ['run', '--silent', 'build:ui'], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm run build:ui failed:\n${r.stdout}\n${r.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (no storage shared with any other), guarded to 127.0.0.1. */
  context(): Promise<BrowserContext>;
  /** Requests that tried to leave 127.0.0.1 (refused), and CSP violations seen. */
  offHost: string[];
  cspViolations: string[];
  close(): Promise<void>;
}

/**
 * Debian's Chromium driven by playwright-core: headless, no sandbox (root), every
 * background connection off, and a fresh profile (playwright's launch makes a new empty
 * --user-data-dir of its own each time, and removes it on close). Each context refuses any request that is
 * not for 127.0.0.1, so the UI is proven to load nothing from elsewhere.
 */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--disable-extensions',
      '--disable-quic',
      '--no-first-run',
      '--no-default-browser-check',
      '--metrics-recording-only',
    ],
  });
  const offHost: string[] = [];
  const cspViolations: string[] = [];
  const contexts: BrowserContext[] = [];
  return {
    browser,
    offHost,
    cspViolations,
    async context() {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      contexts.push(ctx);
      await ctx.route('**/*', (route) => {
        const url = new URL(route.request().url());
        if (url.hostname === '127.0.0.1') return route.continue();
        offHost.push(url.href);
        return route.abort('blockedbyclient');
      });
      ctx.on('page', (page) => watch(page, cspViolations));
      return ctx;
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close();
    },
  };
}

function watch(page: Page, cspViolations: string[]): void {
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy/i.test(text)) cspViolations.push(text);
  });
}

/** A full-page screenshot at 1280 and at 390 px wide, as `.cache/screenshots/<name>-<w>.png`. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const size = page.viewportSize() ?? { width: 1280, height: 900 };
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize(size);
}

interface Store {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
}
/** The page's sessionStorage item (where the UI keeps its token). */
export function sessionItem(page: Page, key: string): Promise<string | null> {
  return page.evaluate(
    (k) => (globalThis as unknown as { sessionStorage: Store }).sessionStorage.getItem(k),
    key,
  );
}

export function setSessionItem(page: Page, key: string, value: string): Promise<void> {
  return page.evaluate(
    ([k, v]) => (globalThis as unknown as { sessionStorage: Store }).sessionStorage.setItem(k, v),
    [key, value] as const,
  );
}
