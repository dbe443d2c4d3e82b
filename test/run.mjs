// `npm test`: finds or starts a MongoDB-wire server, then runs every test file with node's
// test runner against it and the NATS server (HOOKLINE_NATS_URL, default 127.0.0.1:4222).
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { answers, splitMongoUrl, startFerretDB } from '../scripts/mongo.mjs';
import { natsServerBinary } from '../scripts/nats.mjs';

const root = new URL('..', import.meta.url).pathname;

// `*.bench.ts` files measure rather than check (a figure for the docs, taking a minute):
// they run only when named, as in `npm test -- ui-render`.
function findTests(dir, suffixes) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p, suffixes));
    else if (suffixes.some((s) => name.endsWith(s))) out.push(relative(root, p));
  }
  return out.sort();
}

// `npm test -- a b` runs the files whose path contains a or b; `--exclude c` leaves out
// those containing c (CI's first pass leaves out test/fault/, which runs once, in the
// second pass, on the current nats-server), and says so.
const args = process.argv.slice(2);
const filter = [];
const exclude = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--exclude') exclude.push(args[++i] ?? '');
  else filter.push(args[i]);
}
let files = findTests(join(root, 'test'), ['.test.ts']);
if (filter.length > 0)
  files = findTests(join(root, 'test'), ['.test.ts', '.bench.ts']).filter((f) =>
    filter.some((x) => f.includes(x)),
  );
if (exclude.length > 0) {
  const left = files.filter((f) => exclude.some((x) => x && f.includes(x)));
  files = files.filter((f) => !left.includes(f));
  console.error(`hookline tests: left out (--exclude): ${left.join(', ') || 'nothing'}`);
}
// The cluster test runs nats-server 2.15.2: built now, not within a test's time limit.
if (files.some((f) => f.includes('cluster'))) natsServerBinary();

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

// Podman's Docker-compatible service, for the sidecar's test against a real engine.
let podmanPid = null;
const env = { ...process.env, HOOKLINE_TEST_MONGODB_URL: mongoBase };
const runsPodmanTest = files.some((f) => f.includes('podman'));
if (
  runsPodmanTest &&
  !env.HOOKLINE_TEST_PODMAN_SOCK &&
  spawnSync('sh', ['-c', 'command -v podman']).status === 0
) {
  const r = spawnSync('bash', [join(root, 'test', 'podman', 'setup.sh')], { encoding: 'utf8' });
  if (r.status === 0) {
    const [sock, pid, conf] = r.stdout.trim().split(' ');
    podmanPid = Number(pid);
    env.HOOKLINE_TEST_PODMAN_SOCK = sock;
    env.HOOKLINE_TEST_CONTAINERS_CONF = conf;
    console.error(`hookline tests: Podman's Docker API at ${sock}`);
  } else {
    console.error(`hookline tests: could not start Podman's service:\n${r.stderr}`);
  }
}

// Files under test/timing/ measure rates at a receiver: they run after the rest, one at a
// time, so that no other test's processes compete with theirs for the machine's cores.
function runFiles(list, concurrency) {
  if (list.length === 0) return Promise.resolve(0);
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-reporter=spec',
      `--test-concurrency=${concurrency}`,
      '--test-timeout=120000',
      ...list,
    ],
    { cwd: root, stdio: 'inherit', env },
  );
  return new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
}
const alone = files.filter((f) => f.includes('test/timing/'));
const together = files.filter((f) => !alone.includes(f));
const first = await runFiles(together, 2);
const second = await runFiles(alone, 1);
const code = first || second;
if (ferret) await ferret.stop();
if (podmanPid) {
  try {
    process.kill(podmanPid, 'SIGTERM');
  } catch {
    // gone already
  }
}
process.exit(code);
