// `npm test`: finds or starts a MongoDB-wire server, then runs every test file with node's
// test runner against it and the NATS server (HOOKLINE_NATS_URL, default 127.0.0.1:4222).
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { answers, splitMongoUrl, startFerretDB } from '../scripts/mongo.mjs';

const root = new URL('..', import.meta.url).pathname;

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out.sort();
}

const filter = process.argv.slice(2);
let files = findTests(join(root, 'test'));
if (filter.length > 0) files = files.filter((f) => filter.some((x) => f.includes(x)));

let ferret = null;
let mongoBase = process.env.HOOKLINE_TEST_MONGODB_URL;
if (
  !mongoBase &&
  process.env.HOOKLINE_MONGODB_URL &&
  (await answers(process.env.HOOKLINE_MONGODB_URL))
) {
  mongoBase = splitMongoUrl(process.env.HOOKLINE_MONGODB_URL).base;
}
if (!mongoBase) {
  ferret = await startFerretDB();
  mongoBase = ferret.url;
  console.error(`hookline tests: FerretDB at ${mongoBase} (data in ${ferret.dataDir})`);
}

const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=2',
    '--test-timeout=120000',
    ...files,
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, HOOKLINE_TEST_MONGODB_URL: mongoBase },
  },
);
const code = await new Promise((resolve) =>
  child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))),
);
if (ferret) await ferret.stop();
process.exit(code);
