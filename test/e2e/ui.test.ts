import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { waitFor } from '../helpers/env.js';
import { ADMIN, apiClient, startTestHookline, type TestHookline } from '../helpers/hookline.js';
import {
  ensureUiBuilt,
  launchBrowser,
  screenshots,
  sessionItem,
  setSessionItem,
  type TestBrowser,
} from '../helpers/browser.js';
import { receiverPool } from '../helpers/receiver.js';

// The console and the portal in a real Chromium, against a real registry and dispatcher:
// every click goes through the public /v1 API, and the browser reaches nothing but 127.0.0.1.

let h: TestHookline;
let b: TestBrowser;
const receivers = receiverPool();
const TIMEOUT = 10_000;

before(async () => {
  ensureUiBuilt();
  h = await startTestHookline('ui', { retrySchedule: '100ms' });
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

async function consoleSignIn(p: Page, token = ADMIN): Promise<void> {
  await p.goto(`${h.url}/`);
  await p.getByLabel('Admin or publisher token').fill(token);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('heading', { name: 'Overview' }).waitFor();
}

async function portalSignIn(p: Page, key: string): Promise<void> {
  await p.goto(`${h.url}/portal`);
  await p.getByLabel('Subscriber API key').fill(key);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('heading', { name: 'Your endpoints' }).waitFor();
}

const state: {
  admin?: Page;
  subscriberKey?: string;
  subscriberId?: string;
  portal?: Page;
  endpointId?: string;
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

  for (const path of [
    '/deliveries/dlv_x',
    '/endpoints?status=active',
    '/portal',
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
});

test('an admin signs in to the console, creates a topic and a subscriber', async () => {
  const p = await page();
  state.admin = p;
  await p.goto(`${h.url}/topics`);
  await p.getByRole('heading', { name: 'hookline console' }).waitFor();
  await screenshots(p, 'console-signin');
  await consoleSignIn(p);
  // The token lives in sessionStorage, never in the address.
  assert.ok(!p.url().includes(ADMIN));
  assert.equal(await sessionItem(p, 'hookline.console.token'), ADMIN);

  await p.getByRole('link', { name: 'Topics', exact: true }).click();
  await p.getByLabel('Name').fill('book.created');
  await p.getByLabel('Description').fill('A book was added to the catalogue');
  await p.getByRole('button', { name: 'Create topic' }).click();
  await p.getByRole('status').filter({ hasText: 'book.created' }).waitFor();
  await p.getByRole('cell', { name: 'book.created' }).waitFor();
  const topics = await h.api('GET', '/v1/topics');
  assert.ok(topics.body.data.some((t: { name: string }) => t.name === 'book.created'));
  await screenshots(p, 'console-topics');

  await p.getByRole('link', { name: 'Subscribers', exact: true }).click();
  await p.getByLabel('Name').fill('User A');
  await p.getByRole('button', { name: 'Create subscriber' }).click();
  const key = await p.getByLabel("User A's API key").inputValue();
  assert.match(key, /^hl_sub_/);
  state.subscriberKey = key;
  const subs = await h.api('GET', '/v1/subscribers');
  state.subscriberId = subs.body.data.find((s: { name: string }) => s.name === 'User A').id;
  await screenshots(p, 'console-subscribers');
});

test('the subscriber adds an endpoint in the portal, and it becomes active', async () => {
  const receiver = await receivers.start();
  const p = await page(); // a fresh context: nothing of the admin's session
  state.portal = p;
  await p.goto(`${h.url}/portal`);
  await p.getByLabel('Subscriber API key').waitFor();
  await screenshots(p, 'portal-signin');
  await portalSignIn(p, state.subscriberKey as string);
  await p.getByText('A book was added to the catalogue').waitFor();

  await p.getByRole('button', { name: 'Add an endpoint' }).click();
  await p.getByLabel('URL').fill(`${receiver.url}/hooks`);
  await p.getByRole('checkbox', { name: 'book.created' }).check();
  await p.getByLabel('Description (optional)').fill('User A’s book feed');
  await p.getByRole('button', { name: 'Add endpoint' }).click();
  await p.getByTestId('verification').filter({ hasText: 'Active.' }).waitFor();
  const secret = await p.getByLabel(/Signing secret/).inputValue();
  assert.match(secret, /^whsec_/);
  await p.getByRole('list', { name: 'Endpoints' }).getByText(`${receiver.url}/hooks`).waitFor();
  await screenshots(p, 'portal-home');

  const eps = await apiClient(h.url, state.subscriberKey as string)('GET', '/v1/endpoints');
  assert.equal(eps.body.data.length, 1);
  assert.equal(eps.body.data[0].status, 'active');
  state.endpointId = eps.body.data[0].id;

  // A refused URL says why, with the API's message.
  await p.getByLabel('URL').fill('http://10.1.2.3/hooks');
  await p.getByRole('checkbox', { name: 'book.created' }).check();
  await p.getByRole('button', { name: 'Add endpoint' }).click();
  await p.getByTestId('verification').filter({ hasText: 'Refused:' }).waitFor();
});

test('a published message appears in the portal’s deliveries, with its attempt', async () => {
  const p = state.portal as Page;
  const msg = await h.api('POST', '/v1/messages', {
    topic: 'book.created',
    data: { id: 1, title: 'Dune' },
  });
  assert.equal(msg.status, 202);
  await p.getByRole('link', { name: 'Deliveries', exact: true }).click();
  const row = p.getByRole('row').filter({ hasText: 'book.created' });
  await waitFor(
    'the delivery to be listed as succeeded',
    async () => {
      await p.reload();
      await p
        .getByRole('table', { name: 'Deliveries' })
        .or(p.getByText('No deliveries yet'))
        .waitFor();
      return (await row.filter({ hasText: 'succeeded' }).count()) === 1;
    },
    TIMEOUT,
    200,
  );
  await screenshots(p, 'portal-deliveries');
  await row.getByRole('link').first().click();
  await p.getByRole('list', { name: 'Attempts' }).getByText('HTTP 200').waitFor();
  await screenshots(p, 'portal-delivery');
});

test('a failing endpoint’s delivery is retried from the console', async () => {
  let healthy = false;
  const r = await receivers.start((_req, res) => {
    res.writeHead(healthy ? 200 : 500);
    res.end(healthy ? 'ok' : 'boom');
  });
  const ep = await h.api('POST', '/v1/endpoints', {
    url: `${r.url}/fail`,
    topics: ['book.created'],
  });
  assert.equal(ep.status, 201);
  const msg = await h.api('POST', '/v1/messages', { topic: 'book.created', data: { id: 2 } });
  const failed = await waitFor('the delivery to fail', async () => {
    const ds = await h.api('GET', `/v1/deliveries?endpoint_id=${ep.body.id}&status=failed`);
    return ds.body.data[0];
  });
  assert.equal(failed.message_id, msg.body.id);

  const p = state.admin as Page;
  await p.getByRole('link', { name: 'Deliveries', exact: true }).click();
  await p.getByLabel('Status').selectOption('failed');
  await p.getByRole('button', { name: 'Filter' }).click();
  await p.waitForURL(/status=failed/);
  await p.locator(`tr[data-id="${failed.id}"]`).waitFor();
  await screenshots(p, 'console-deliveries');
  await p.locator(`tr[data-id="${failed.id}"] a`).first().click();
  await p.getByRole('list', { name: 'Attempts' }).getByText('HTTP 500').first().waitFor();
  await screenshots(p, 'console-delivery');

  healthy = true;
  await p.getByRole('button', { name: 'Retry now' }).click();
  await p.getByRole('region', { name: 'Delivery', exact: true }).getByText('succeeded').waitFor();
  await p.getByRole('list', { name: 'Attempts' }).getByText('HTTP 200').waitFor();
  const after = await h.api('GET', `/v1/deliveries/${failed.id}`);
  assert.equal(after.body.status, 'succeeded');
});

test('a second subscriber’s portal shows none of the first’s endpoints or deliveries', async () => {
  const other = await h.api('POST', '/v1/subscribers', { name: 'User B' });
  const p = await page();
  await portalSignIn(p, other.body.api_key);
  await p.getByText('No endpoint yet').waitFor();
  assert.equal(await p.getByText('/hooks').count(), 0);
  await p.getByRole('link', { name: 'Deliveries', exact: true }).click();
  await p.getByText('No deliveries yet').waitFor();
  // Even by address, the first subscriber's endpoint is not there for it.
  await p.goto(`${h.url}/portal/endpoints/${state.endpointId}`);
  await p.getByRole('alert').filter({ hasText: 'Unknown endpoint' }).waitFor();
  await p.context().close();
});

test('a refused token sends the console back to sign-in', async () => {
  const p = state.admin as Page;
  await setSessionItem(p, 'hookline.console.token', 'not-a-token');
  await p.getByRole('link', { name: 'Topics', exact: true }).click();
  await p.getByRole('heading', { name: 'hookline console' }).waitFor();
  await p.getByText('sign in again').waitFor();
  assert.equal(await sessionItem(p, 'hookline.console.token'), null);
});

test('the browser reached nothing but 127.0.0.1, and no CSP violation was reported', () => {
  assert.deepEqual(b.offHost, []);
  assert.deepEqual(b.cspViolations, []);
});
