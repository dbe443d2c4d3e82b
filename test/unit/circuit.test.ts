import assert from 'node:assert/strict';
import { test } from 'node:test';
import { circuitView } from '../../registry/views.js';

test('circuitView: open while any dispatcher holds it open, stale entries ignored', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');
  const at = (s: number) => new Date(now + s * 1000);
  assert.deepEqual(circuitView(undefined, now), { state: 'closed' });
  assert.deepEqual(circuitView({}, now), { state: 'closed' });
  assert.deepEqual(
    circuitView(
      {
        a: { opened_at: at(-30), probe_at: at(8) },
        b: { opened_at: at(-10), probe_at: at(2) },
        // A dispatcher that died with its circuit open, ten minutes ago.
        c: { opened_at: at(-900), probe_at: at(-600) },
      },
      now,
    ),
    {
      state: 'open',
      since: at(-30).toISOString(),
      next_probe_at: at(2).toISOString(),
      dispatchers: 2,
    },
  );
  assert.deepEqual(circuitView({ c: { opened_at: at(-900), probe_at: at(-600) } }, now), {
    state: 'closed',
  });
});
