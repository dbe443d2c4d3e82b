import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  mkdtempSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isolation, NATS_URL, waitFor } from '../helpers/env.js';
import { eventCount, storedEvents } from '../helpers/events.js';
import { kill, spawnHookline } from '../helpers/process.js';
import { startFileSidecar } from '../helpers/sidecar.js';

const dir = mkdtempSync(join(tmpdir(), 'hookline-sidecar-'));
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

const line = (topic: string, data: unknown) =>
  `${JSON.stringify({ level: 30, event: topic, data })}\n`;

function sidecarFor(iso: ReturnType<typeof isolation>, path: string) {
  return startFileSidecar({
    natsUrl: NATS_URL,
    namespace: iso.namespace,
    path,
    topics: 'book.created,book.deleted',
  });
}

test('tagged lines of a file become events; other lines are skipped and counted', async () => {
  const iso = isolation('sfile');
  cleanups.push(() => iso.cleanup());
  const path = join(dir, 'a.log');
  writeFileSync(
    path,
    line('book.created', { id: 1 }) + 'plain text\n' + line('book.updated', { id: 9 }),
  );
  const s = await sidecarFor(iso, path);
  cleanups.push(() => s.close());
  appendFileSync(path, line('book.deleted', { id: 1 }));
  appendFileSync(path, '{"event":"book.created","data":{"id":2}}'); // no newline yet: not a line
  const events = await waitFor('two events', async () => {
    const e = await storedEvents(iso.namespace);
    return e.length === 2 && e;
  });
  assert.deepEqual(
    events.map((e) => [e.topic, e.body.data]),
    [
      ['book.created', { id: 1 }],
      ['book.deleted', { id: 1 }],
    ],
  );
  assert.ok(events.every((e) => /^msg_/.test(e.id)));
  assert.deepEqual(s.sidecar.stats.skipped, { not_tagged: 1, undeclared_topic: 1 });
  appendFileSync(path, '\n');
  await waitFor('the completed line', async () => (await storedEvents(iso.namespace)).length === 3);
});

test('a restart resumes from the checkpoint: nothing lost, nothing read twice', async () => {
  const iso = isolation('sresume');
  cleanups.push(() => iso.cleanup());
  const path = join(dir, 'b.log');
  writeFileSync(path, '');
  const first = await sidecarFor(iso, path);
  for (let i = 0; i < 20; i++) appendFileSync(path, line('book.created', { i }));
  await waitFor('20 events', async () => (await storedEvents(iso.namespace)).length === 20);
  await first.close();
  for (let i = 20; i < 30; i++) appendFileSync(path, line('book.created', { i }));
  const second = await sidecarFor(iso, path);
  cleanups.push(() => second.close());
  await waitFor('30 events', async () => (await storedEvents(iso.namespace)).length === 30);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(second.sidecar.stats.events, 10, 'only the new lines were read and published again');
  const ids = (await storedEvents(iso.namespace)).map((e) => (e.body.data as { i: number }).i);
  assert.deepEqual(ids, [...Array(30).keys()]);
});

test('rotation and truncation: followed like tail -F, every line once', async () => {
  const iso = isolation('srotate');
  cleanups.push(() => iso.cleanup());
  const path = join(dir, 'c.log');
  writeFileSync(path, line('book.created', { n: 1 }));
  const s = await sidecarFor(iso, path);
  cleanups.push(() => s.close());
  await waitFor('the first event', async () => (await storedEvents(iso.namespace)).length === 1);
  // Rotate: the old file is renamed, a last line lands in it, a new file starts.
  renameSync(path, `${path}.1`);
  appendFileSync(`${path}.1`, line('book.created', { n: 2 }));
  writeFileSync(path, line('book.created', { n: 3 }));
  await waitFor('three events', async () => (await storedEvents(iso.namespace)).length === 3);
  // Truncate (copytruncate): the same file starts again from nothing.
  truncateSync(path, 0);
  await new Promise((r) => setTimeout(r, 300));
  appendFileSync(path, line('book.created', { n: 4 }));
  await waitFor('four events', async () => (await storedEvents(iso.namespace)).length === 4);
  // The same line content again after truncation is a new event, not a duplicate.
  truncateSync(path, 0);
  await new Promise((r) => setTimeout(r, 300));
  appendFileSync(path, line('book.created', { n: 4 }));
  const events = await waitFor('five events', async () => {
    const e = await storedEvents(iso.namespace);
    return e.length === 5 && e;
  });
  assert.deepEqual(events.map((e) => (e.body.data as { n: number }).n).sort(), [1, 2, 3, 4, 4]);
  assert.equal(new Set(events.map((e) => e.id)).size, 5);
});

test('SIGKILL in mid-stream: after a restart every line is published, none twice', async () => {
  const iso = isolation('skill');
  cleanups.push(() => iso.cleanup());
  const path = join(dir, 'd.log');
  const total = 20_000;
  writeFileSync(
    path,
    Array.from({ length: total }, (_, i) => line('book.created', { i })).join(''),
  );
  const env = {
    HOOKLINE_NATS_URL: NATS_URL,
    HOOKLINE_NAMESPACE: iso.namespace,
    HOOKLINE_URL: 'http://127.0.0.1:9',
    HOOKLINE_LOG_LEVEL: 'info',
  };
  const args = ['sidecar', '--file', path, '--service', 'books', '--topics', 'book.created'];
  const first = await spawnHookline(args, env, 30_000, 'following');
  await waitFor('some events', async () => (await eventCount(iso.namespace)) > 100, 20_000, 5);
  assert.equal(await kill(first, 'SIGKILL'), 'SIGKILL');
  const partial = await eventCount(iso.namespace);
  assert.ok(
    partial < total,
    `the kill came after all ${total} lines were published: not mid-stream`,
  );
  const second = await spawnHookline(args, env, 30_000, 'following');
  cleanups.push(() => kill(second, 'SIGKILL'));
  await waitFor('every line', async () => (await eventCount(iso.namespace)) >= total, 60_000);
  await new Promise((r) => setTimeout(r, 500));
  const final = await storedEvents(iso.namespace);
  assert.equal(
    final.length,
    total,
    `${final.length} events for ${total} lines (${partial} before the kill)`,
  );
  const seen = new Set(final.map((e) => (e.body.data as { i: number }).i));
  assert.equal(seen.size, total);
});

test('--stdin: a pipe of lines becomes events, and the sidecar exits at its end', async () => {
  const iso = isolation('sstdin');
  cleanups.push(() => iso.cleanup());
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'cli.ts',
      'sidecar',
      '--stdin',
      '--service',
      'books',
      '--topics',
      'book.created',
    ],
    {
      cwd: new URL('../..', import.meta.url).pathname,
      env: {
        PATH: process.env.PATH ?? '',
        HOOKLINE_NATS_URL: NATS_URL,
        HOOKLINE_NAMESPACE: iso.namespace,
        HOOKLINE_URL: 'http://127.0.0.1:9',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  for (let i = 0; i < 50; i++) child.stdin.write(line('book.created', { i }) + 'noise\n');
  child.stdin.end();
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(code, 0, err);
  const events = await storedEvents(iso.namespace);
  assert.equal(events.length, 50);
});
