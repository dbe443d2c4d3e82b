import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { freePort, waitFor } from '../helpers/env.js';
import { ADMIN, apiClient, startTestHookline, type TestHookline } from '../helpers/hookline.js';
import {
  ensureUiBuilt,
  launchBrowser,
  screenshots,
  sessionItem,
  setSessionItem,
  type TestBrowser,
} from '../helpers/browser.js';
import { type Received, receiverPool } from '../helpers/receiver.js';
import { pageSizes } from '../../scripts/ui-size.mjs';

// The console and the portal in a real Chromium, against a real registry and dispatcher:
// every click goes through the public /v1 API, and the browser reaches nothing but 127.0.0.1.
// The tests run in order and build on each other (one hookline, one browser).

const ROOT = join(import.meta.dirname, '..', '..');
const CODE_TTL_MS = 4000;
let h: TestHookline;
let b: TestBrowser;
const receivers = receiverPool();
const TIMEOUT = 10_000;

before(async () => {
  ensureUiBuilt();
  h = await startTestHookline('ui', {
    retrySchedule: '100ms',
    portalCodeTtl: `${CODE_TTL_MS}ms`,
    portalFrameAncestors: 'https://books.example',
  });
  b = await launchBrowser();
});
after(async () => {
  await b?.close();
  await receivers.closeAll();
  await h?.close();
});

async function page(ctx?: BrowserContext): Promise<Page> {
  const p = await (ctx ?? (await b.context())).newPage();
  p.setDefaultTimeout(TIMEOUT);
  return p;
}

/** Follows a nav link, then waits for the page's heading. */
async function nav(p: Page, link: string, heading = link): Promise<void> {
  await p.getByRole('navigation').getByRole('link', { name: link, exact: true }).click();
  await p.getByRole('heading', { name: heading, exact: true }).first().waitFor();
}

/** Waits until the list on the page has loaded (a table, or its empty state). */
async function listed(p: Page, table: string, empty: string): Promise<void> {
  await p.getByRole('table', { name: table }).or(p.getByText(empty)).first().waitFor();
}

const state: {
  admin?: Page;
  portal?: Page;
  subscriberId?: string;
  link?: string;
  expiredLink?: { url: string; expires_at: string };
  endpointId?: string;
  secret?: string;
  delivered?: Received;
} = {};

test('the registry serves the UI with a strict CSP, client routes fall back, /v1 is untouched', async () => {
  const home = await fetch(`${h.url}/`);
  assert.equal(home.status, 200);
  assert.match(home.headers.get('content-type') ?? '', /^text\/html/);
  const csp = home.headers.get('content-security-policy') ?? '';
  for (const d of [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "frame-ancestors 'none'",
  ])
    assert.ok(csp.includes(d), `${d} in ${csp}`);
  assert.ok(!/unsafe-inline|unsafe-eval|https?:/.test(csp), csp);
  assert.equal(home.headers.get('x-frame-options'), 'DENY');
  const html = await home.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  assert.doesNotMatch(html, /<style|style=/, 'no inline style');
  assert.doesNotMatch(html, /https?:\/\//, 'nothing from elsewhere');

  // The portal may be framed by the origins of HOOKLINE_PORTAL_FRAME_ANCESTORS, no others.
  const portal = await fetch(`${h.url}/portal`);
  assert.match(
    portal.headers.get('content-security-policy') ?? '',
    /frame-ancestors https:\/\/books\.example(;|$)/,
  );
  assert.equal(portal.headers.get('x-frame-options'), null);

  for (const path of [
    '/deliveries/dlv_x',
    '/endpoints?status=active',
    '/portal/',
    '/portal/deliveries',
  ]) {
    const res = await fetch(`${h.url}${path}`);
    assert.equal(res.status, 200, path);
    assert.match(await res.text(), path.startsWith('/portal') ? /portal/i : /hookline console/);
  }
  const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1] as string;
  const js = await fetch(`${h.url}${asset}`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('cache-control') ?? '', /immutable/);
  assert.equal((await fetch(`${h.url}/assets/nothing-here.js`)).status, 404);
  const unknown = await fetch(`${h.url}/v1/nothing-here`);
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'not_found');
  assert.equal((await fetch(`${h.url}/v1/topics`)).status, 401);
  assert.equal((await fetch(`${h.url}/nothing-here`)).status, 404);

  // What each page downloads before it draws stays far under the 250 KB.
  for (const [page, size] of Object.entries(pageSizes()))
    assert.ok(size.gzipped < 250_000, `${page}: ${size.gzipped} B gzipped`);
});

test('an admin signs in to the console, creates a topic and a subscriber, and gets a portal link', async () => {
  const p = await page();
  state.admin = p;
  await p.goto(`${h.url}/topics`);
  await p.getByRole('heading', { name: 'hookline console' }).waitFor();
  await screenshots(p, 'console-signin');
  // By keyboard alone: the token field has the focus, Enter signs in.
  await p.keyboard.type(ADMIN);
  await p.keyboard.press('Enter');
  // Back where it was asked for; the token in sessionStorage, never in the address.
  await p.getByRole('heading', { name: 'Topics', exact: true }).waitFor();
  assert.ok(!p.url().includes(ADMIN));
  assert.equal(await sessionItem(p, 'hookline.console.token'), ADMIN);

  await p.getByLabel('Name').fill('book.created');
  await p.getByLabel('Description').fill('A book was added to the catalogue');
  await p.getByRole('button', { name: 'Create topic' }).click();
  await p.getByRole('cell', { name: 'book.created' }).waitFor();
  const topics = await h.api('GET', '/v1/topics');
  assert.ok(topics.body.data.some((t: { name: string }) => t.name === 'book.created'));
  await h.api('POST', '/v1/topics', { name: 'book.deleted', description: 'A book was removed' });
  await p.reload();
  await p.getByRole('cell', { name: 'book.deleted' }).waitFor();
  await screenshots(p, 'console-topics');
  await p.getByRole('link', { name: 'book.created' }).click();
  await p.getByText('No endpoint subscribes to this topic.').waitFor();
  await screenshots(p, 'console-topic');

  await nav(p, 'Subscribers');
  await p.getByLabel('Name').fill('User A');
  await p.getByRole('button', { name: 'Create subscriber' }).click();
  const key = await p.getByLabel("User A's API key").inputValue();
  assert.match(key, /^hl_sub_/);
  const subs = await h.api('GET', '/v1/subscribers');
  state.subscriberId = subs.body.data.find((s: { name: string }) => s.name === 'User A').id;
  const row = p.locator(`tr[data-id="${state.subscriberId}"]`);
  await row.getByRole('button', { name: 'Portal link' }).click();
  state.link = await p.getByRole('textbox', { name: 'Portal link' }).inputValue();
  assert.match(state.link, new RegExp(`^${h.url}/portal#code=`));
  await screenshots(p, 'console-subscribers');

  // One more link, left to expire while the next steps run.
  const expiring = await h.api('POST', `/v1/subscribers/${state.subscriberId}/portal-links`);
  state.expiredLink = expiring.body;

  await nav(p, 'Publishers');
  await p.getByLabel('Name').fill('Book Server');
  await p.getByRole('button', { name: 'Create publisher' }).click();
  assert.match(await p.getByLabel("Book Server's token").inputValue(), /^hl_pub_/);
  await screenshots(p, 'console-publishers');
});

test('the portal link opens User A’s portal in a fresh browser, and the code leaves the address', async () => {
  const p = await page(); // a fresh context: nothing of the admin's session
  state.portal = p;
  await p.goto(state.link as string);
  await p.getByRole('heading', { name: 'Your endpoints' }).waitFor();
  await p.getByTestId('subscriber').filter({ hasText: 'User A' }).waitFor();
  assert.equal(new URL(p.url()).hash, '', 'the code is gone from the address');
  assert.equal(new URL(p.url()).pathname, '/portal');
  const token = await sessionItem(p, 'hookline.portal.token');
  assert.ok(token && !(state.link as string).includes(token));
  const me = await apiClient(h.url, token)('GET', '/v1/me');
  assert.equal(me.body.id, state.subscriberId);
  assert.equal(me.body.portal, true);
  await p.getByText('A book was added to the catalogue').waitFor();
});

test('a reused or an expired portal code is refused', async () => {
  const again = await page();
  await again.goto(state.link as string);
  await again
    .getByRole('alert')
    .filter({ hasText: 'has been used already or has expired' })
    .waitFor();
  await again.getByLabel('Subscriber API key').waitFor();
  assert.equal(await sessionItem(again, 'hookline.portal.token'), null);
  await screenshots(again, 'portal-signin');
  await again.context().close();

  // The second link, made a few seconds ago, expires after HOOKLINE_PORTAL_CODE_TTL.
  const expiresAt = Date.parse(state.expiredLink?.expires_at as string);
  await waitFor('its code to expire', () => Date.now() > expiresAt + 200, CODE_TTL_MS + 2000, 100);
  const late = await page();
  await late.goto(state.expiredLink?.url as string);
  await late
    .getByRole('alert')
    .filter({ hasText: 'has been used already or has expired' })
    .waitFor();
  await late.context().close();
});

test('the subscriber adds an endpoint, which becomes active, and subscribes it in two clicks', async () => {
  const receiver = await receivers.start();
  const p = state.portal as Page;
  await p.getByRole('button', { name: 'Add an endpoint' }).click();
  await p.getByLabel('URL').fill(`${receiver.url}/hooks`);
  await p.getByRole('checkbox', { name: 'book.created' }).check();
  await p.getByLabel('Description (optional)').fill('User A’s book feed');
  await p.getByLabel('Rate limit (optional)').fill('50');
  await p.getByRole('button', { name: 'Add endpoint' }).click();
  await p.getByTestId('verification').filter({ hasText: 'Active.' }).waitFor();
  state.secret = await p.getByLabel(/Signing secret/).inputValue();
  assert.match(state.secret, /^whsec_/);
  const list = p.getByRole('list', { name: 'Endpoints' });
  await list.getByText(`${receiver.url}/hooks`).waitFor();

  const token = await sessionItem(p, 'hookline.portal.token');
  const eps = await apiClient(h.url, token)('GET', '/v1/endpoints');
  assert.equal(eps.body.data.length, 1);
  assert.equal(eps.body.data[0].status, 'active');
  assert.equal(eps.body.data[0].rate_limit, 50);
  state.endpointId = eps.body.data[0].id;

  // A refused URL says why, with the API's message, and stores nothing.
  await p.getByLabel('URL').fill('http://10.1.2.3/hooks');
  await p.getByRole('checkbox', { name: 'book.created' }).check();
  await p.getByRole('button', { name: 'Add endpoint' }).click();
  await p.getByTestId('verification').filter({ hasText: 'Refused:' }).waitFor();
  await screenshots(p, 'portal-add-refused');
  await p.getByRole('button', { name: 'Close' }).click();

  // The catalogue: "Subscribe…" on a topic, then the endpoint.
  const topic = p.locator('li[data-topic="book.deleted"]');
  await topic.getByRole('button', { name: 'Subscribe…' }).click();
  await topic.getByRole('button', { name: `${receiver.url}/hooks` }).click();
  await topic.getByText('Delivered to:').waitFor();
  const ep = await apiClient(h.url, token)('GET', `/v1/endpoints/${state.endpointId}`);
  assert.deepEqual(ep.body.topics, ['book.created', 'book.deleted']);
  await screenshots(p, 'portal-home');

  const published = await h.api('POST', '/v1/messages', {
    topic: 'book.created',
    data: { id: 1, title: 'Dune' },
  });
  assert.equal(published.status, 202);
  state.delivered = await waitFor('the event to arrive', () =>
    receiver.events.find((e) => e.headers['webhook-id'] === published.body.id),
  );
});

test('a published message appears in the portal’s deliveries, with its attempt', async () => {
  const p = state.portal as Page;
  await nav(p, 'Deliveries');
  const row = p.getByRole('row').filter({ hasText: 'book.created' });
  await waitFor(
    'the delivery to be listed as succeeded',
    async () => {
      await p.reload();
      await listed(p, 'Deliveries', 'No deliveries yet');
      return (await row.filter({ hasText: 'succeeded' }).count()) === 1;
    },
    TIMEOUT,
    200,
  );
  await screenshots(p, 'portal-deliveries');
  // Times are the viewer's, with the ISO value on hover.
  assert.match(
    (await row.locator('time').first().getAttribute('title')) ?? '',
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/,
  );
  await row.getByRole('link').first().click();
  await p.getByRole('list', { name: 'Attempts' }).getByText('HTTP 200').waitFor();
  await screenshots(p, 'portal-delivery');
  // The keyboard: the first Tab reaches "Skip to content", which moves the focus to the page.
  await p.reload();
  await p.getByRole('list', { name: 'Attempts' }).waitFor();
  await p.keyboard.press('Tab');
  assert.equal(
    await p.evaluate(
      () =>
        (globalThis as unknown as { document: { activeElement: { textContent: string } } }).document
          .activeElement.textContent,
    ),
    'Skip to content',
  );
});

test('the endpoint page: test event, secret and snippets that verify a real delivery', async () => {
  const p = state.portal as Page;
  await p.goto(`${h.url}/portal/endpoints/${state.endpointId}`);
  await p.getByRole('button', { name: 'Send test event' }).click();
  await p.getByTestId('test-result').filter({ hasText: 'HTTP 200' }).waitFor();
  await p.getByRole('button', { name: 'Reveal the secret' }).click();
  assert.equal(await p.getByLabel('Current secret').inputValue(), state.secret);
  await p.getByTestId('success-rate').filter({ hasText: '%' }).waitFor();
  // The circuit breaker's state is shown with the rest (closed: the endpoint answers 2xx).
  await p.locator('.props div', { hasText: 'Circuit' }).filter({ hasText: 'closed' }).waitFor();
  await screenshots(p, 'portal-endpoint');

  // Both snippets, with the real secret, accept the real delivery and refuse a forgery.
  const node = await p.getByTestId('snippet-node').textContent();
  await p.getByRole('button', { name: 'Python' }).click();
  const python = await p.getByTestId('snippet-python').textContent();
  for (const [lang, code] of [
    ['node', node ?? ''],
    ['python', python ?? ''],
  ] as const) {
    assert.ok(code.includes(state.secret as string), `${lang} has the secret`);
    await checkSnippet(lang, code, state.delivered as Received);
  }
});

test('a failing endpoint’s deliveries are retried from the console, one and then all', async () => {
  let healthy = false;
  const r = await receivers.start((_req, res) => {
    res.writeHead(healthy ? 200 : 500);
    res.end(healthy ? 'ok' : 'boom');
  });
  const ep = await h.api('POST', '/v1/endpoints', {
    url: `${r.url}/fail`,
    topics: ['book.deleted'],
  });
  assert.equal(ep.status, 201);
  for (let i = 0; i < 3; i++)
    await h.api('POST', '/v1/messages', { topic: 'book.deleted', data: { id: i } });
  const failed = await waitFor('three deliveries to fail', async () => {
    const ds = await h.api('GET', `/v1/deliveries?endpoint_id=${ep.body.id}&status=failed`);
    return ds.body.data.length === 3 ? ds.body.data : null;
  });

  const p = state.admin as Page;
  await nav(p, 'Overview');
  const failing = p.getByRole('region', { name: 'Failing endpoints' }).getByText(`${r.url}/fail`);
  await waitFor(
    'the failing endpoint on the overview',
    async () => {
      await p.reload();
      await p.getByRole('region', { name: 'Failing endpoints' }).waitFor();
      return (await failing.count()) === 1;
    },
    TIMEOUT,
    250,
  );
  await screenshots(p, 'console-overview');

  await nav(p, 'Endpoints');
  await p.getByLabel('URL contains').fill('/fail');
  await p.getByRole('button', { name: 'Search' }).click();
  await p.waitForURL(/url=%2Ffail/);
  await p.getByRole('link', { name: `${r.url}/fail` }).click();
  await p
    .getByRole('table', { name: 'Deliveries' })
    .getByText('failed', { exact: true })
    .first()
    .waitFor();
  await screenshots(p, 'console-endpoint');

  await nav(p, 'Messages');
  await listed(p, 'Messages', 'No message matches.');
  await screenshots(p, 'console-messages');
  await p.getByRole('link', { name: failed[0].message_id }).click();
  await p.getByRole('heading', { name: 'Fan-out' }).waitFor();
  await p.getByRole('table', { name: 'Deliveries' }).getByText('failed', { exact: true }).waitFor();
  await screenshots(p, 'console-message');

  await nav(p, 'Deliveries');
  await p.getByLabel('Status').selectOption('failed');
  await p.getByLabel('Endpoint id').fill(ep.body.id);
  await p.getByRole('button', { name: 'Filter' }).click();
  await p.waitForURL(/status=failed/);
  for (const d of failed) await p.locator(`tr[data-id="${d.id}"]`).waitFor();
  await screenshots(p, 'console-deliveries');

  // One, from its page.
  const one = failed[0];
  await p.locator(`tr[data-id="${one.id}"] a`).first().click();
  await p.getByRole('list', { name: 'Attempts' }).getByText('HTTP 500').first().waitFor();
  await screenshots(p, 'console-delivery');
  healthy = true;
  await p.getByRole('button', { name: 'Retry now' }).click();
  const region = p.getByRole('region', { name: 'Delivery', exact: true });
  await region.getByText('succeeded', { exact: true }).waitFor();
  await p.getByRole('list', { name: 'Attempts' }).getByText('HTTP 200').waitFor();
  assert.equal((await h.api('GET', `/v1/deliveries/${one.id}`)).body.status, 'succeeded');

  // The rest, as a job with a progress bar.
  await p.goBack();
  await p.getByRole('button', { name: 'Retry all failed' }).click();
  const job = p.getByTestId('job');
  await job.getByText('done', { exact: true }).waitFor();
  assert.equal(await job.getByRole('progressbar').getAttribute('value'), '2');
  await job.getByText('2 of 2 retried').waitFor();
  await waitFor('both to succeed', async () => {
    const ds = await h.api('GET', `/v1/deliveries?endpoint_id=${ep.body.id}&status=succeeded`);
    return ds.body.data.length === 3;
  });
});

test('a second subscriber’s portal shows none of the first’s endpoints or deliveries', async () => {
  const other = await h.api('POST', '/v1/subscribers', { name: 'User B' });
  const p = await page();
  await p.goto(`${h.url}/portal`);
  await p.getByLabel('Subscriber API key').fill(other.body.api_key);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByText('No endpoint yet').waitFor();
  assert.equal(await p.getByText('/hooks').count(), 0);
  await nav(p, 'Deliveries');
  await p.getByText('No deliveries yet').waitFor();
  assert.equal(await p.getByRole('row').count(), 0);
  // Even by address, the first subscriber's endpoint and delivery are not there for it.
  await p.goto(`${h.url}/portal/endpoints/${state.endpointId}`);
  await p.getByRole('alert').filter({ hasText: 'Unknown endpoint' }).waitFor();
  await p.context().close();
});

test('signing out ends the portal session; a refused token sends the console back to sign-in', async () => {
  const portal = state.portal as Page;
  const token = await sessionItem(portal, 'hookline.portal.token');
  await portal.getByRole('button', { name: 'Sign out' }).click();
  await portal.getByLabel('Subscriber API key').waitFor();
  assert.equal((await apiClient(h.url, token)('GET', '/v1/me')).status, 401);

  const p = state.admin as Page;
  await setSessionItem(p, 'hookline.console.token', 'not-a-token');
  await nav(p, 'Topics', 'hookline console');
  await p.getByText('sign in again').waitFor();
  assert.equal(await sessionItem(p, 'hookline.console.token'), null);
});

test('lists page with the API’s cursors', async () => {
  await h.api('POST', '/v1/topics', { name: 'paging.topic' });
  const messages = Array.from({ length: 60 }, (_, i) => ({ topic: 'paging.topic', data: { i } }));
  assert.equal((await h.api('POST', '/v1/messages/batch', { messages })).status, 202);
  const p = await page();
  await p.goto(`${h.url}/`);
  await p.getByLabel('Admin or publisher token').fill(ADMIN);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('heading', { name: 'Overview' }).waitFor();
  await p.goto(`${h.url}/messages?topic=paging.topic`);
  const rows = p.getByRole('table', { name: 'Messages' }).locator('tbody tr');
  await waitFor('the first page', async () => (await rows.count()) === 50);
  const first = await rows.first().getAttribute('data-id');
  await p.getByRole('button', { name: 'Older →' }).click();
  await p.getByText('Page 2').waitFor();
  await waitFor('the second page', async () => (await rows.count()) === 10);
  assert.equal(await p.getByRole('button', { name: 'Older →' }).isDisabled(), true);
  await p.getByRole('button', { name: '← Newer' }).click();
  await p.getByText('Page 1').waitFor();
  await waitFor(
    'the first page again',
    async () => (await rows.first().getAttribute('data-id')) === first,
  );
  await p.context().close();
});

test('the browser reached nothing but 127.0.0.1, and no CSP violation was reported', () => {
  assert.deepEqual(b.offHost, []);
  assert.deepEqual(b.cspViolations, []);
});

/**
 * Runs a portal snippet as written (its port changed to a free one) and replays a real
 * delivery to it: accepted as it came, refused with one byte of the body changed.
 */
async function checkSnippet(lang: 'node' | 'python', code: string, event: Received) {
  const port = await freePort();
  const dir = join(ROOT, '.cache', 'snippets');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, lang === 'node' ? 'receiver.mjs' : 'receiver.py');
  writeFileSync(file, code.replace(/\b3000\b/, String(port)));
  const child = spawn(lang === 'node' ? process.execPath : 'python3', [file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  try {
    const headers = {
      'content-type': 'application/json',
      'webhook-id': String(event.headers['webhook-id']),
      'webhook-timestamp': String(event.headers['webhook-timestamp']),
      'webhook-signature': String(event.headers['webhook-signature']),
    };
    const send = (body: string) =>
      fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers, body }).then((r) => r.status);
    const status = await waitFor(
      `the ${lang} snippet to answer`,
      () => send(event.body).catch(() => null),
      10_000,
      100,
    );
    assert.equal(status, 204, `${lang}: ${out}`);
    assert.equal(await send(event.body.replace('Dune', 'Dunf')), 401, `${lang}: ${out}`);
    await waitFor(`the ${lang} snippet to print the event`, () =>
      out.includes(headers['webhook-id']),
    );
  } finally {
    child.kill('SIGTERM');
  }
}
