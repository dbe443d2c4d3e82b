import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deniedReason, parseAddress, parseAllowList, parseCidr } from '../../core/netaddr.js';

// Classifier tests only: no request is sent anywhere.
const denied = [
  '127.0.0.1',
  '127.8.9.10',
  '0.0.0.0',
  '10.1.2.3',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.1.1',
  '100.64.0.1',
  '169.254.169.254',
  '192.0.2.1',
  '198.18.0.1',
  '198.51.100.7',
  '203.0.113.9',
  '224.0.0.1',
  '239.255.255.250',
  '240.0.0.1',
  '255.255.255.255',
  '::1',
  '::',
  '::ffff:127.0.0.1',
  '::ffff:10.0.0.1',
  '::ffff:7f00:1',
  'fc00::1',
  'fd12:3456::1',
  'fe80::1',
  'fe80::1%eth0',
  'ff02::1',
  '64:ff9b::a00:1',
  '2002:7f00:1::',
  '2001:0:4136:e378::1',
  '2001:db8::1',
  '[::1]',
];
const allowed = [
  '1.1.1.1',
  '8.8.8.8',
  '93.184.216.34',
  '2606:4700:4700::1111',
  '::ffff:1.1.1.1',
  '172.32.0.1',
  '100.128.0.1',
];

test('non-public addresses are refused', () => {
  for (const a of denied) assert.ok(deniedReason(a), `${a} should be refused`);
});

test('public addresses pass', () => {
  for (const a of allowed) assert.equal(deniedReason(a), null, `${a} should pass`);
});

test('HOOKLINE_ALLOW_TARGETS opens exactly the ranges it lists', () => {
  const allow = parseAllowList('127.0.0.0/8, 10.1.0.0/16');
  assert.equal(deniedReason('127.0.0.1', allow), null);
  assert.equal(
    deniedReason('::ffff:127.0.0.1', allow),
    null,
    'IPv4-mapped form follows the IPv4 rule',
  );
  assert.equal(deniedReason('10.1.200.3', allow), null);
  assert.ok(deniedReason('10.2.0.1', allow));
  assert.ok(deniedReason('::1', allow), 'IPv6 loopback is a separate range');
});

test('address parsing handles the usual spellings and refuses junk', () => {
  assert.equal(parseAddress('1.2.3.4'), parseAddress('::ffff:1.2.3.4'));
  assert.equal(parseAddress('::ffff:102:304'), parseAddress('1.2.3.4'));
  for (const junk of ['', '1.2.3', '1.2.3.256', 'example.com', '::g', '1::2::3', '2130706433']) {
    assert.equal(parseAddress(junk), null, junk);
  }
  assert.throws(() => parseCidr('10.0.0.0/33'));
  assert.throws(() => parseCidr('nonsense'));
});

test('property: every address in a denied IPv4 range is refused, in plain and IPv4-mapped form', async () => {
  const fc = (await import('fast-check')).default;
  const ranges: Array<[number, number, number, number, number]> = [
    [127, 0, 0, 0, 8],
    [10, 0, 0, 0, 8],
    [172, 16, 0, 0, 12],
    [192, 168, 0, 0, 16],
    [169, 254, 0, 0, 16],
    [100, 64, 0, 0, 10],
    [0, 0, 0, 0, 8],
    [224, 0, 0, 0, 4],
  ];
  fc.assert(
    fc.property(
      fc.constantFrom(...ranges),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      ([a, b, c, d, bits], noise) => {
        const base = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
        const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
        const n = ((base & mask) | (noise & ~mask)) >>> 0;
        const ip = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
        assert.ok(deniedReason(ip), ip);
        assert.ok(deniedReason(`::ffff:${ip}`), `::ffff:${ip}`);
      },
    ),
  );
});
