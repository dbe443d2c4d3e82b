import { after, test } from 'node:test';
import { sleep } from '../../core/lifecycle.js';
import { startOwnFerretDB } from '../helpers/ferretdb.js';
import { check, faultScope, system, underLoad } from '../helpers/faults.js';
import { rssMb } from '../helpers/publishers.js';

// The store SIGKILLed under load and started again on the same data 10 s later: publishes
// meanwhile get a clear 503 within a bound, never a hang; deliveries pause and resume;
// nothing accepted is lost; no process exits.

const scope = faultScope();
after(() => scope.close());

test('the store SIGKILLed under load and back after 10 s: 503s meanwhile, nothing lost', async () => {
  const db = await startOwnFerretDB();
  scope.cleanups.push(() => db.close());
  const s = await system(scope, 'storeaway', { mongodbBase: db.url });
  const rssBefore = [
    await rssMb(s.registry.child.pid ?? 0),
    await rssMb(s.dispatcher.child.pid ?? 0),
  ];
  const run = await underLoad(s.url, async () => {
    await db.kill();
    const downAt = Date.now();
    await sleep(10_000);
    await db.start();
    return { downAt, upAt: Date.now() };
  });
  await check('store away 10 s', s, run, rssBefore);
});
