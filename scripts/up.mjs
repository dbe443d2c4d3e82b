// `npm start`: brings up a working hookline on this machine and shows an event flowing.
//
//  1. finds MongoDB (HOOKLINE_MONGODB_URL, or 127.0.0.1:27017) or starts FerretDB, and a
//     NATS server (HOOKLINE_NATS_URL, or 127.0.0.1:4222) or builds nats-server with Go and
//     starts it with JetStream;
//  2. builds hookline if needed and starts `hookline all` (registry + dispatcher + web UI);
//  3. starts a demo subscriber on http://127.0.0.1:4000/receive-events that checks signatures;
//  4. creates the Book Server topics, registers the subscriber, publishes book.created,
//     and prints the delivery and its attempts;
//  5. starts the demo Book Server (it only logs tagged lines) and `hookline sidecar --file`
//     on its log, creates a book, and shows the event arrive at the subscriber.
//  6. prints the web console's URL and a portal link for the demo subscriber.
//  Then it keeps running until Ctrl-C.
//
// `--once` stops after the demo (used by the test suite to keep this command honest); when
// its standard input is a pipe, it stops only once that pipe closes, so that a test can
// look at what it printed while it still runs.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { answers, freePort, portFree, startFerretDB } from './mongo.mjs';
import { NATS_SERVER_VERSION, natsAddress, natsAnswers, startNats } from './nats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const once = process.argv.includes('--once');
const state = join(root, '.hookline');
mkdirSync(state, { recursive: true });
const say = (s) => process.stdout.write(`${s}\n`);

const cleanups = [];
async function shutdown(code) {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

// 1. MongoDB
let mongoUrl = process.env.HOOKLINE_MONGODB_URL;
if (mongoUrl && !(await answers(mongoUrl))) {
  say(`hookline: HOOKLINE_MONGODB_URL (${mongoUrl}) does not answer.`);
  process.exit(1);
}
if (!mongoUrl && (await answers('mongodb://127.0.0.1:27017/hookline'))) {
  mongoUrl = 'mongodb://127.0.0.1:27017/hookline';
  say('hookline: using the MongoDB at 127.0.0.1:27017');
}
if (!mongoUrl) {
  say('hookline: no MongoDB answers; starting FerretDB (data in .hookline/ferretdb)');
  const port = (await portFree(27017)) ? 27017 : undefined;
  const ferret = await startFerretDB({ dir: join(state, 'ferretdb'), port, log: say });
  cleanups.push(() => ferret.stop());
  mongoUrl = `${ferret.url}/hookline`;
}

// 1b. NATS with JetStream: the one given, or one of our own on the same address.
const natsUrl = process.env.HOOKLINE_NATS_URL ?? 'nats://127.0.0.1:4222';
const natsAt = natsAddress(natsUrl);
if (!(await natsAnswers(natsAt))) {
  if (!['127.0.0.1', 'localhost', '::1'].includes(natsAt.host)) {
    say(`hookline: no NATS server answers at ${natsUrl}.`);
    process.exit(1);
  }
  const storeDir = once ? mkdtempSync(join(tmpdir(), 'hookline-nats-')) : join(state, 'nats');
  say(
    `hookline: no NATS server answers at ${natsUrl}; starting nats-server ${NATS_SERVER_VERSION} with JetStream (store in ${once ? storeDir : '.hookline/nats'})`,
  );
  const nats = await startNats({
    host: natsAt.host === 'localhost' ? '127.0.0.1' : natsAt.host,
    port: natsAt.port,
    storeDir,
    log: say,
  });
  cleanups.push(async () => {
    await nats.stop();
    if (once) rmSync(storeDir, { recursive: true, force: true });
  });
}

// 2. hookline all
const built = join(root, 'dist', 'cli.js');
const newest = (p) =>
  statSync(p).isDirectory()
    ? Math.max(0, ...readdirSync(p).map((n) => newest(join(p, n))))
    : statSync(p).mtimeMs;
const newestSource = Math.max(
  ...['cli.ts', 'core', 'registry', 'dispatcher', 'sidecar', 'cli', 'demo']
    .map((p) => join(root, p))
    .filter(existsSync)
    .map(newest),
);
if (!existsSync(built) || statSync(built).mtimeMs < newestSource) {
  say('hookline: building (npm run build) …');
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(1);
}
const tokenFile = join(state, 'admin-token');
if (!process.env.HOOKLINE_ADMIN_TOKEN && !existsSync(tokenFile)) {
  writeFileSync(tokenFile, `hl_admin_${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
}
const token = process.env.HOOKLINE_ADMIN_TOKEN ?? readFileSync(tokenFile, 'utf8').trim();
const addr = process.env.HOOKLINE_ADDR ?? '127.0.0.1:8080';
const receiverPort = Number(process.env.HOOKLINE_DEMO_PORT ?? (once ? await freePort() : 4000));
const env = {
  ...process.env,
  HOOKLINE_MONGODB_URL: mongoUrl,
  HOOKLINE_ADMIN_TOKEN: token,
  HOOKLINE_ADDR: addr,
  HOOKLINE_NATS_URL: natsUrl,
  // The demo subscriber lives on this machine: allow exactly its address.
  HOOKLINE_ALLOW_TARGETS: process.env.HOOKLINE_ALLOW_TARGETS ?? '127.0.0.1/32',
};
/** A child process of the demo, stopped with SIGTERM when the demo stops. */
function child(args, extraEnv = {}, stdout = 'ignore') {
  const c = spawn(process.execPath, args, {
    cwd: root,
    env: { ...env, ...extraEnv },
    stdio: ['ignore', stdout, 'inherit'],
  });
  cleanups.push(
    () =>
      new Promise((resolve) => {
        if (c.exitCode !== null) return resolve();
        c.once('exit', resolve);
        c.kill('SIGTERM');
      }),
  );
  return c;
}
const server = child([built, 'all'], {}, 'pipe');
let logs = '';
server.stdout.on('data', (c) => {
  logs += c.toString();
  if (!once && process.env.HOOKLINE_DEMO_LOGS) process.stdout.write(c);
});
const apiUrl = await new Promise((resolve, reject) => {
  const timer = setInterval(() => {
    const m = /"url":"(http:\/\/[^"]+)","msg":"registry listening"/.exec(logs);
    if (m) {
      clearInterval(timer);
      resolve(m[1]);
    }
    if (server.exitCode !== null) {
      clearInterval(timer);
      reject(new Error(`hookline exited (${server.exitCode}):\n${logs}`));
    }
  }, 50);
});

// 3. the demo subscriber ("User A" of the Book Server story)
const { verifySignature } = await import(join(root, 'dist', 'core', 'signing.js'));
let secret = '';
const received = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => {
    body += c;
  });
  req.on('end', () => {
    const event = JSON.parse(body);
    if (event.type === 'endpoint.verification') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ token: event.data.token }));
    }
    let verified = 'no secret yet';
    try {
      verifySignature(
        secret,
        {
          id: req.headers['webhook-id'],
          timestamp: req.headers['webhook-timestamp'],
          signature: req.headers['webhook-signature'],
        },
        body,
      );
      verified = 'signature OK';
    } catch (err) {
      verified = `signature INVALID (${err.message})`;
    }
    received.push(event);
    say(
      `subscriber: received ${event.type} ${JSON.stringify(event.data)} [${req.headers['webhook-id']}, ${verified}]`,
    );
    res.writeHead(200);
    res.end();
  });
});
await new Promise((resolve) => receiver.listen(receiverPort, '127.0.0.1', resolve));
cleanups.push(() => new Promise((resolve) => receiver.close(resolve)));
const hookUrl = `http://127.0.0.1:${receiverPort}/receive-events`;

// 4. the Book Server flow, through the REST API
async function api(method, path, body, as = token) {
  const res = await fetch(apiUrl + path, {
    method,
    headers: {
      authorization: `Bearer ${as}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
const TOPICS = { 'book.created': 'A book was added', 'book.deleted': 'A book was removed' };
for (const [name, description] of Object.entries(TOPICS))
  await api('POST', '/v1/topics', { name, description });

// User A is a subscriber of its own: its endpoint, its deliveries and its portal.
async function demoSubscriber() {
  const file = join(state, 'demo-subscriber.json');
  if (!once && existsSync(file)) {
    try {
      const kept = JSON.parse(readFileSync(file, 'utf8'));
      const r = await api('GET', `/v1/subscribers/${kept.id}`, undefined, kept.api_key);
      if (r.status === 200) return kept;
    } catch {
      // made for another database: a new one below
    }
  }
  const r = await api('POST', '/v1/subscribers', { name: 'User A' });
  const made = { id: r.body.id, name: r.body.name, api_key: r.body.api_key };
  if (!once) writeFileSync(file, JSON.stringify(made), { mode: 0o600 });
  return made;
}
const subscriber = await demoSubscriber();
const existing = (await api('GET', '/v1/endpoints?limit=1000')).body.data.filter(
  (e) => e.url === hookUrl,
);
for (const e of existing) await api('DELETE', `/v1/endpoints/${e.id}`);
const endpoint = await api(
  'POST',
  '/v1/endpoints',
  { url: hookUrl, topics: ['book.created', 'book.deleted'], description: "User A's receiver" },
  subscriber.api_key,
);
if (endpoint.status !== 201) {
  say(`hookline: registering the demo subscriber failed: ${JSON.stringify(endpoint.body)}`);
  await shutdown(1);
}
secret = endpoint.body.secret;
const message = await api('POST', '/v1/messages', {
  topic: 'book.created',
  data: { id: 1, title: 'The Left Hand of Darkness', author: 'Ursula K. Le Guin' },
});
const deadline = Date.now() + 15_000;
let delivery;
while (Date.now() < deadline) {
  const ds = await api('GET', `/v1/messages/${message.body.id}/deliveries`);
  delivery = ds.body.data[0];
  if (delivery?.status === 'succeeded') break;
  await new Promise((r) => setTimeout(r, 100));
}
const attempts = delivery
  ? (await api('GET', `/v1/deliveries/${delivery.id}/attempts`)).body.data
  : [];
say('');
say(`registry      ${apiUrl}   (admin token: ${token})`);
say(`subscriber    ${hookUrl}   endpoint ${endpoint.body.id}, ${endpoint.body.status}`);
say(`message       ${message.body.id}   book.created`);
say(`delivery      ${delivery?.id}   ${delivery?.status}, ${delivery?.attempts} attempt(s)`);
for (const a of attempts)
  say(`  attempt     HTTP ${a.status_code} in ${a.duration_ms} ms at ${a.created_at}`);
say('');
if (delivery?.status !== 'succeeded' || received.length === 0) {
  say('hookline: the demo event was not delivered');
  await shutdown(1);
}

// 5. zero code: the Book Server only logs; the sidecar follows its log file.
const booksLog = once
  ? join(mkdtempSync(join(tmpdir(), 'hookline-books-')), 'books.log')
  : join(state, 'books.log');
const booksPort = once ? await freePort() : Number(process.env.HOOKLINE_DEMO_BOOKS_PORT ?? 3000);
child([
  join(root, 'dist', 'demo', 'book-server.js'),
  '--port',
  String(booksPort),
  '--log-file',
  booksLog,
]);
child(
  [
    join(root, 'dist', 'cli.js'),
    'sidecar',
    '--file',
    booksLog,
    '--service',
    'books',
    '--topics',
    'book.created,book.deleted',
  ],
  {
    HOOKLINE_URL: apiUrl,
    HOOKLINE_TOKEN: token,
  },
);
const booksUrl = `http://127.0.0.1:${booksPort}`;
let created = null;
for (let i = 0; i < 100 && !created; i++) {
  try {
    const res = await fetch(`${booksUrl}/books`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'A Wizard of Earthsea', author: 'Ursula K. Le Guin' }),
    });
    if (res.status === 201) created = await res.json();
  } catch {
    await new Promise((r) => setTimeout(r, 100));
  }
}
const fromLogs = () =>
  received.some(
    (e) =>
      e.type === 'book.created' && e.data?.id === created?.id && e.data?.title === created?.title,
  );
for (let i = 0; i < 150 && !fromLogs(); i++) await new Promise((r) => setTimeout(r, 100));
say('');
say(`book server   ${booksUrl}   logs to ${booksLog}, followed by: hookline sidecar --file`);
say(
  `              POST /books → log line → sidecar → JetStream → dispatcher → subscriber: ${fromLogs() ? 'delivered' : 'NOT delivered'}`,
);
say('');
if (!fromLogs()) {
  say("hookline: the event from the Book Server's log was not delivered");
  await shutdown(1);
}
// 6. the web UI: the console, and a portal link for User A (single use, short-lived).
const link = await api('POST', `/v1/subscribers/${subscriber.id}/portal-links`);
say(`console       ${apiUrl}/   (sign in with the admin token)`);
if (link.status === 201) {
  say(`portal        ${link.body.url}`);
  say(`              User A's portal; the link works once, until ${link.body.expires_at}`);
} else {
  say(`portal        ${apiUrl}/portal   (sign in with User A's key: ${subscriber.api_key})`);
}
say('');
if (once) {
  // A test holds the demo open through a pipe on standard input, and closes it when done.
  const st = fstatSync(0);
  if (st.isFIFO() || st.isSocket()) {
    process.stdin.resume();
    await new Promise((resolve) => process.stdin.once('end', resolve).once('close', resolve));
  }
  await shutdown(0);
}
say(`hookline is running. Open ${apiUrl}/ in a browser, or try, in another terminal:`);
say(`  curl -X POST ${booksUrl}/books -H 'content-type: application/json' -d '{"title":"Dune"}'`);
say(`  export HOOKLINE_URL=${apiUrl} HOOKLINE_TOKEN=${token}`);
say(`  node dist/cli.js publish book.deleted '{"id":1}'`);
say('  node dist/cli.js deliveries list');
say('Ctrl-C stops everything.');
