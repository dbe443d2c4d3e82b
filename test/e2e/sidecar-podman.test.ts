import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { startSidecar } from '../../cli/server.js';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { isolation, NATS_URL, waitFor } from '../helpers/env.js';
import { eventCount, storedEvents } from '../helpers/events.js';

// The sidecar against a real Docker Engine API: Podman's compatible service (started by
// test/podman/setup.sh from `npm test` when podman is installed; .ci/run installs it).
const sock = process.env.HOOKLINE_TEST_PODMAN_SOCK;
const conf = process.env.HOOKLINE_TEST_CONTAINERS_CONF;
const created: string[] = [];

function podman(...args: string[]): string {
  return execFileSync('podman', args, {
    env: { ...process.env, CONTAINERS_CONF: conf ?? '' },
    encoding: 'utf8',
  }).trim();
}

after(() => {
  for (const id of created) {
    try {
      podman('rm', '-f', '-t', '0', id);
    } catch {
      // gone
    }
  }
});

function sidecar(namespace: string) {
  const config = loadConfig(
    {
      natsUrl: NATS_URL,
      namespace,
      url: 'http://127.0.0.1:9',
      dockerHost: `unix://${sock}`,
      logLevel: process.env.HOOKLINE_TEST_LOG ?? 'silent',
    },
    {},
  );
  return startSidecar(config, createLogger(config.logLevel), { kind: 'docker' });
}

const script = (n: number) =>
  `for i in $(seq 1 ${n}); do echo '{"event":"book.created","data":{"n":'$i'}}'; echo "noise $i" >&2; sleep 0.1; done; sleep 600`;

test('Podman: labelled containers are followed, restarts resume from the checkpoint', {
  skip: sock || process.env.CI ? false : 'podman is not installed (CI installs it)',
}, async () => {
  assert.ok(sock, 'CI must provide Podman: test/podman/setup.sh did not start');
  const iso = isolation('podman');
  try {
    const name = `hl-${randomBytes(4).toString('hex')}`;
    const labels = [
      '--label',
      'hookline.enable=true',
      '--label',
      'hookline.topics=book.created',
      '--label',
      'hookline.service=books',
    ];
    const id = podman(
      'run',
      '-d',
      '--network',
      'none',
      '--name',
      name,
      ...labels,
      'localhost/hl-busybox:latest',
      'sh',
      '-c',
      script(5),
    );
    created.push(id);
    const first = await sidecar(iso.namespace);
    await waitFor('5 events', async () => (await eventCount(iso.namespace)) === 5, 20_000);
    await first.close();

    // Restarted, the container prints its 5 lines again: new lines, new events.
    podman('restart', '-t', '0', name);
    const second = await sidecar(iso.namespace);
    await waitFor('10 events', async () => (await eventCount(iso.namespace)) === 10, 20_000);
    // A container started while the sidecar runs is picked up from the events stream.
    const late = podman(
      'run',
      '-d',
      '--network',
      'none',
      ...labels,
      'localhost/hl-busybox:latest',
      'sh',
      '-c',
      script(3),
    );
    created.push(late);
    await waitFor('13 events', async () => (await eventCount(iso.namespace)) === 13, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    const events = await storedEvents(iso.namespace);
    assert.equal(events.length, 13);
    assert.equal(new Set(events.map((e) => e.id)).size, 13);
    assert.ok(
      (second.sidecar.stats.skipped.not_tagged ?? 0) >= 3,
      'stderr noise is read and skipped',
    );
    await second.close();
  } finally {
    await iso.cleanup();
  }
});
