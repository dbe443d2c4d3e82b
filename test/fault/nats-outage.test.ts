import { after, test } from 'node:test';
import { sleep } from '../../core/lifecycle.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { check, faultScope, system, underLoad } from '../helpers/faults.js';
import { rssMb } from '../helpers/publishers.js';

// NATS SIGKILLed under load and started again on the same store 5 s later: the registry's
// 202s stop (503 within a bound) and resume; nothing accepted is lost; no process exits.

const scope = faultScope();
after(() => scope.close());

test('NATS SIGKILLed under load and back after 5 s: 503s meanwhile, nothing lost', async () => {
  const nats = await startNatsServer();
  scope.cleanups.push(() => nats.close());
  const s = await system(scope, 'natsaway', { natsUrl: nats.url });
  const rssBefore = [
    await rssMb(s.registry.child.pid ?? 0),
    await rssMb(s.dispatcher.child.pid ?? 0),
  ];
  const run = await underLoad(s.url, async () => {
    await nats.stop();
    const downAt = Date.now();
    await sleep(5_000);
    await nats.start();
    return { downAt, upAt: Date.now() };
  });
  await check('NATS away 5 s', s, run, rssBefore);
});
