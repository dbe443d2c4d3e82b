import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Demuxer } from '../../sidecar/docker-api.js';
import { resumeSecond } from '../../sidecar/docker.js';
import { LineSplitter, MAX_LINE_BYTES, parseLine } from '../../sidecar/parse.js';
import { eventId, OrderedCommitter } from '../../sidecar/publisher.js';
import { RulesError, rulesFrom, rulesFromLabels } from '../../sidecar/rules.js';

const rules = rulesFrom({ service: 'books', topics: 'book.created, book.deleted' });

test('JSON lines: the topic field, the data field, or the whole line', () => {
  assert.deepEqual(parseLine('{"event":"book.created","data":{"id":1}}', rules), {
    kind: 'event',
    topic: 'book.created',
    data: { id: 1 },
  });
  assert.deepEqual(parseLine('{"event":"book.deleted","id":7,"level":30}', rules), {
    kind: 'event',
    topic: 'book.deleted',
    data: { event: 'book.deleted', id: 7, level: 30 },
  });
  assert.deepEqual(parseLine('{"event":"book.updated","data":{}}', rules), {
    kind: 'skip',
    reason: 'undeclared_topic',
  });
  assert.deepEqual(parseLine('{"msg":"hello"}', rules), { kind: 'skip', reason: 'not_tagged' });
  assert.deepEqual(parseLine('plain text', rules), { kind: 'skip', reason: 'not_tagged' });
  assert.deepEqual(parseLine('{"event":', rules), { kind: 'skip', reason: 'not_tagged' });
  assert.deepEqual(parseLine('{"event":"book.created","data":null}', rules), {
    kind: 'event',
    topic: 'book.created',
    data: null,
  });
  // Custom fields from labels.
  const custom = rulesFrom({ service: 's', topics: 'a.b', field: 'type', data: 'payload' });
  assert.deepEqual(parseLine('{"type":"a.b","payload":[1,2]}', custom), {
    kind: 'event',
    topic: 'a.b',
    data: [1, 2],
  });
});

test('text lines by hookline.pattern', () => {
  const text = rulesFrom({
    service: 's',
    topics: 'book.created',
    pattern: 'EVENT (?<topic>\\S+) (?<data>\\{.*\\})$',
  });
  assert.deepEqual(parseLine('2024-01-01 INFO EVENT book.created {"id":3}', text), {
    kind: 'event',
    topic: 'book.created',
    data: { id: 3 },
  });
  assert.deepEqual(parseLine('EVENT book.created {not json}', text), {
    kind: 'skip',
    reason: 'malformed',
  });
  assert.deepEqual(parseLine('EVENT other.topic {}', text), {
    kind: 'skip',
    reason: 'undeclared_topic',
  });
  assert.deepEqual(parseLine('nothing here', text), { kind: 'skip', reason: 'not_tagged' });
});

test('rules refuse what cannot work, with a message naming the label', () => {
  assert.throws(() => rulesFrom({ service: 's', topics: '' }), RulesError);
  assert.throws(() => rulesFrom({ service: 's', topics: 'bad topic' }), /invalid topic/);
  assert.throws(
    () => rulesFrom({ service: 's', topics: 'a', pattern: '(' }),
    /not a valid regular expression/,
  );
  assert.throws(() => rulesFrom({ service: 's', topics: 'a', pattern: '(?<data>.*)' }), /topic/);
  assert.equal(rulesFromLabels({ 'hookline.topics': 'a' }, '/c'), null, 'not enabled');
  const r = rulesFromLabels({ 'hookline.enable': 'true', 'hookline.topics': 'a,b' }, '/books-1');
  assert.equal(r?.service, 'books-1');
  assert.deepEqual([...(r?.topics ?? [])], ['a', 'b']);
});

test('parseLine never throws, whatever the line', () => {
  const text = rulesFrom({ service: 's', topics: 'a', pattern: '(?<topic>\\w+) (?<data>.*)' });
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.json(),
        fc.jsonValue().map((v) => JSON.stringify({ event: 'a', data: v })),
      ),
      (line) => {
        for (const r of [rules, text]) {
          const out = parseLine(line, r);
          assert.ok(out.kind === 'event' || out.kind === 'skip');
        }
      },
    ),
  );
});

test('the line splitter keeps byte offsets across chunks and drops over-long lines', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.string({ maxLength: 20 }).map((s) => s.replace(/\n/g, '')),
        { maxLength: 30 },
      ),
      fc.integer({ min: 1, max: 17 }),
      (lines, cut) => {
        const data = Buffer.from(lines.map((l) => `${l}\n`).join(''));
        const sp = new LineSplitter(100);
        const got: Array<[string, number]> = [];
        for (let i = 0; i < data.length; i += cut)
          sp.push(data.subarray(i, i + cut), (l, end) => got.push([l, end]));
        assert.deepEqual(
          got.map((g) => g[0]),
          lines,
        );
        let off = 100;
        for (const [l, end] of got) {
          off += Buffer.byteLength(l) + 1;
          assert.equal(end, off);
        }
      },
    ),
  );
  const sp = new LineSplitter();
  const seen: Array<[string, boolean]> = [];
  sp.push(Buffer.alloc(MAX_LINE_BYTES + 10, 'x'), (l, _e, tooLong) => seen.push([l, tooLong]));
  assert.ok(sp.pending <= MAX_LINE_BYTES + 10);
  sp.push(Buffer.from('\nok\n'), (l, _e, tooLong) => seen.push([l, tooLong]));
  assert.deepEqual(seen, [
    ['', true],
    ['ok', false],
  ]);
  assert.equal(sp.offset, MAX_LINE_BYTES + 10 + 4);
});

test('the demuxer reads Docker frames split anywhere', () => {
  const frame = (stream: number, text: string) => {
    const body = Buffer.from(text);
    const head = Buffer.alloc(8);
    head[0] = stream;
    head.writeUInt32BE(body.length, 4);
    return Buffer.concat([head, body]);
  };
  const all = Buffer.concat([frame(1, 'a\n'), frame(2, 'err\n'), frame(1, 'bb\n')]);
  for (let cut = 1; cut < all.length; cut++) {
    const d = new Demuxer();
    const out: string[] = [];
    d.push(all.subarray(0, cut), (s, p) => out.push(`${s}:${p}`));
    d.push(all.subarray(cut), (s, p) => out.push(`${s}:${p}`));
    assert.deepEqual(out, ['1:a\n', '2:err\n', '1:bb\n']);
  }
  const bad = Buffer.from('{"not":"framed"}\n');
  assert.throws(() => new Demuxer().push(bad, () => undefined));
});

test('event ids depend on source, position and content only', () => {
  assert.equal(eventId('file:1:2:0', '10', 'x'), eventId('file:1:2:0', '10', 'x'));
  assert.notEqual(eventId('file:1:2:0', '10', 'x'), eventId('file:1:2:0', '11', 'x'));
  assert.notEqual(eventId('file:1:2:0', '10', 'x'), eventId('file:1:2:1', '10', 'x'));
  assert.match(eventId('a', 'b', 'c'), /^msg_[0-9A-Z]{26}$/);
  assert.equal(
    resumeSecond('2026-11-29T01:20:44.836550295Z'),
    Math.floor(Date.parse('2026-11-29T01:20:44Z') / 1000),
  );
  assert.equal(resumeSecond('garbage'), 0);
});

test('the committer advances only over acknowledged prefixes', async () => {
  const seen: number[] = [];
  const c = new OrderedCommitter<number>((p) => seen.push(p));
  let ack2!: () => void;
  let ack3!: () => void;
  c.skip(1);
  c.track(2, new Promise<void>((r) => (ack2 = r)));
  c.track(3, new Promise<void>((r) => (ack3 = r)));
  c.skip(4);
  ack3();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen, [1], 'line 3 is stored but 2 is not: the checkpoint waits');
  ack2();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen, [1, 4]);
  assert.equal(c.committed, 4);
});
