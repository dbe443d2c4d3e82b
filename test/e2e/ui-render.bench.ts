import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '../helpers/env.js';
import { ADMIN, startTestHookline, type TestHookline } from '../helpers/hookline.js';
import { ensureUiBuilt, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { receiverPool } from '../helpers/receiver.js';

// A measurement, not a pass/fail on time: how long the console's deliveries page takes to
// show its first rows with 10,000 deliveries stored (docs/ui.md quotes what this prints).

const N = 10_000;
let h: TestHookline;
let b: TestBrowser;
const receivers = receiverPool();

before(async () => {
  ensureUiBuilt();
  h = await startTestHookline('uirender');
  b = await launchBrowser();
});
after(async () => {
  await b?.close();
  await receivers.closeAll();
  await h?.close();
});

test(`time to first render of the deliveries page with ${N} deliveries stored`, async () => {
  const r = await receivers.start();
  await h.api('POST', '/v1/topics', { name: 'render.topic' });
  assert.equal(
    (await h.api('POST', '/v1/endpoints', { url: r.url, topics: ['render.topic'] })).status,
    201,
  );
  for (let i = 0; i < N; i += 1000) {
    const messages = Array.from({ length: 1000 }, (_, k) => ({
      topic: 'render.topic',
      data: { n: i + k },
    }));
    assert.equal((await h.api('POST', '/v1/messages/batch', { messages })).status, 202);
  }
  const { deliveries, outcomes } = h.running.mongo.col;
  await waitFor(
    `${N} deliveries stored and delivered`,
    async () =>
      (await deliveries.countDocuments({})) >= N && (await outcomes.countDocuments({})) >= N,
    120_000,
    500,
  );

  const ctx = await b.context();
  // Notes when the first delivery row is in the DOM, from navigation start (performance.now).
  await ctx.addInitScript(() => {
    const w = globalThis as unknown as {
      __firstRow?: number;
      document: { querySelector(s: string): unknown };
      MutationObserver: new (
        cb: (m: unknown, o: { disconnect(): void }) => void,
      ) => { observe(target: unknown, options: object): void };
    };
    new w.MutationObserver((_m, obs) => {
      if (w.document.querySelector('tr[data-id]')) {
        w.__firstRow = performance.now();
        obs.disconnect();
      }
    }).observe(w.document, { childList: true, subtree: true });
  });
  const p = await ctx.newPage();
  await p.goto(`${h.url}/`);
  await p.getByLabel('Admin or publisher token').fill(ADMIN);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('heading', { name: 'Overview' }).waitFor();

  const runs: Array<{ firstRow: number; api: number }> = [];
  for (let i = 0; i < 6; i++) {
    await p.goto(`${h.url}/deliveries`);
    await p.locator('tr[data-id]').first().waitFor({ timeout: 30_000 });
    const m = await p.evaluate(() => {
      const w = globalThis as unknown as { __firstRow?: number };
      const api = performance
        .getEntriesByType('resource')
        .find((e) => e.name.includes('/v1/deliveries')) as unknown as
        | { startTime: number; responseEnd: number }
        | undefined;
      return { firstRow: w.__firstRow ?? -1, api: api ? api.responseEnd - api.startTime : -1 };
    });
    runs.push(m);
  }
  assert.equal(await p.locator('tr[data-id]').count(), 50, 'the first page holds 50');
  const warm = runs
    .slice(1)
    .map((x) => x.firstRow)
    .sort((a, b) => a - b);
  const median = warm[Math.floor(warm.length / 2)] as number;
  const fmt = (x: number) => `${Math.round(x)} ms`;
  const line = `ui-render: deliveries page, ${N} deliveries stored: first rows after ${fmt(runs[0]?.firstRow ?? -1)} (first load), median ${fmt(median)} of ${warm.length} reloads (${warm.map(fmt).join(', ')}); GET /v1/deliveries ${runs.map((x) => fmt(x.api)).join(', ')}`;
  console.log(line);
  process.stderr.write(`${line}\n`);
});
