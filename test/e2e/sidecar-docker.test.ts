import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startSidecar } from '../../cli/server.js';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { NATS_URL, waitFor } from '../helpers/env.js';
import { eventCount, storedEvents } from '../helpers/events.js';
import { ADMIN, startTestHookline, type TestHookline } from '../helpers/hookline.js';
import { type FakeDocker, startDockerApi } from '../helpers/docker-server.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

// The sidecar against a local server of the Docker API calls it makes (see
// test/helpers/docker-server.ts); test/e2e/sidecar-podman.test.ts runs the same flow on
// Podman's real Docker-compatible service.

let h: TestHookline;
let docker: FakeDocker;
let receiver: Receiver;
before(async () => {
  h = await startTestHookline('sdocker');
  docker = await startDockerApi();
  receiver = await startReceiver();
});
after(async () => {
  await h?.close();
  await docker?.close();
  await receiver?.close();
});

function sidecar(host: string, namespace: string) {
  const config = loadConfig(
    {
      natsUrl: NATS_URL,
      namespace,
      url: h.url,
      token: ADMIN,
      dockerHost: host,
      logLevel: process.env.HOOKLINE_TEST_LOG ?? 'silent',
    },
    {},
  );
  return startSidecar(config, createLogger(config.logLevel), { kind: 'docker' });
}

const tagged = (topic: string, data: unknown) =>
  JSON.stringify({ level: 30, msg: 'book saved', event: topic, data });

test('zero-code: a labelled container logs a tagged line, and a subscriber receives the webhook', async () => {
  const id = docker.create({
    name: 'books-1',
    labels: {
      'hookline.enable': 'true',
      'hookline.service': 'books',
      'hookline.topics': 'book.created,book.deleted',
    },
  });
  docker.start(id);
  docker.log(id, tagged('book.created', { id: 1, title: 'Dune' }));
  docker.log(id, 'GET /books 200 3ms', 2);
  const s = await sidecar(docker.host, h.namespace);
  try {
    // The declared topics reach the catalogue, so a subscriber can find and pick them.
    await waitFor('the topics to be registered', async () => {
      const t = await h.api('GET', '/v1/topics');
      const names = t.body.data.map((x: { name: string }) => x.name);
      return names.includes('book.created') && names.includes('book.deleted');
    });
    const ep = await h.api('POST', '/v1/endpoints', {
      url: receiver.url,
      topics: ['book.created', 'book.deleted'],
    });
    assert.equal(ep.status, 201);
    // The first line was published before anyone subscribed; the next ones are delivered.
    docker.log(id, tagged('book.deleted', { id: 1 }));
    await waitFor('the webhook', () => receiver.events.length === 1);
    assert.deepEqual(JSON.parse(receiver.events[0]!.body).data, { id: 1 });
    assert.equal(JSON.parse(receiver.events[0]!.body).type, 'book.deleted');
    // A container started later is picked up from the events stream.
    const id2 = docker.create({
      name: 'books-2',
      labels: { 'hookline.enable': 'true', 'hookline.topics': 'book.created' },
    });
    docker.start(id2);
    docker.log(id2, tagged('book.created', { id: 2 }));
    await waitFor('the second container', () => receiver.events.length === 2);
    // A container without the label is never read.
    const other = docker.create({ name: 'other', labels: { 'hookline.topics': 'book.created' } });
    docker.start(other);
    docker.log(other, tagged('book.created', { id: 99 }));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(receiver.events.length, 2);
    assert.ok(!docker.requests.some((r) => r.includes(other)));
    assert.equal(s.sidecar.stats.skipped.not_tagged, 1);
  } finally {
    await s.close();
  }
});

for (const precision of ['nano', 'second'] as const) {
  test(`restarts and reconnects resume from the checkpoint (${precision} timestamps)`, async () => {
    const api = await startDockerApi({ precision });
    const { isolation } = await import('../helpers/env.js');
    const iso = isolation(`sd${precision}`);
    try {
      const id = api.create({
        name: 'c',
        labels: { 'hookline.enable': 'true', 'hookline.topics': 'book.created' },
      });
      api.start(id);
      // Identical lines in the same second: a position is the timestamp and a rank.
      for (let i = 0; i < 5; i++) api.log(id, tagged('book.created', { same: true }));
      const first = await sidecar(api.host, iso.namespace);
      await waitFor('5 events', async () => (await eventCount(iso.namespace)) === 5);
      await first.close();
      for (let i = 0; i < 5; i++) api.log(id, tagged('book.created', { i }));
      const second = await sidecar(api.host, iso.namespace);
      await waitFor('10 events', async () => (await eventCount(iso.namespace)) === 10);
      // The daemon drops every stream (a restart): the sidecar reconnects.
      api.dropStreams();
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 5; i < 8; i++) api.log(id, tagged('book.created', { i }));
      await waitFor('13 events', async () => (await eventCount(iso.namespace)) === 13, 15_000);
      // The container stops and starts again: followed again from its checkpoint.
      api.stop(id);
      api.start(id);
      api.log(id, tagged('book.created', { i: 8 }));
      await waitFor('14 events', async () => (await eventCount(iso.namespace)) === 14, 15_000);
      await new Promise((r) => setTimeout(r, 300));
      const events = await storedEvents(iso.namespace);
      assert.equal(events.length, 14);
      assert.equal(new Set(events.map((e) => e.id)).size, 14);
      await second.close();
    } finally {
      await api.close();
      await iso.cleanup();
    }
  });
}

test('TTY containers, stderr, invalid labels and hostile lines', async () => {
  const { isolation } = await import('../helpers/env.js');
  const iso = isolation('sdtty');
  const api = await startDockerApi();
  try {
    const tty = api.create({
      name: 'tty',
      tty: true,
      labels: { 'hookline.enable': 'true', 'hookline.topics': 'a.b' },
    });
    const bad = api.create({
      name: 'bad',
      labels: { 'hookline.enable': 'true', 'hookline.topics': 'a.b', 'hookline.pattern': '(' },
    });
    const text = api.create({
      name: 'text',
      labels: {
        'hookline.enable': 'true',
        'hookline.topics': 'a.b',
        'hookline.pattern': 'EVENT (?<topic>\\S+) (?<data>.*)$',
      },
    });
    for (const id of [tty, bad, text]) api.start(id);
    api.log(tty, JSON.stringify({ event: 'a.b', data: { tty: true } }));
    api.log(bad, JSON.stringify({ event: 'a.b', data: { bad: true } }));
    api.log(text, 'INFO EVENT a.b {"text":true}', 2);
    api.log(text, `{"event":"a.b","data":"${'x'.repeat(300_000)}"}`);
    api.log(text, '{"event": nonsense');
    const s = await sidecar(api.host, iso.namespace);
    try {
      const events = await waitFor('two events', async () => {
        const e = await storedEvents(iso.namespace);
        return e.length === 2 && e;
      });
      assert.deepEqual(
        events
          .map((e) => e.body.data)
          .sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
        [{ text: true }, { tty: true }],
      );
      assert.equal(s.sidecar.stats.skipped.too_long, 1);
    } finally {
      await s.close();
    }
  } finally {
    await api.close();
    await iso.cleanup();
  }
});
