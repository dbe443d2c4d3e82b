import assert from 'node:assert/strict';
import { test } from 'node:test';
import type {
  EndpointSecret,
  Job,
  Me,
  PortalLink,
  PortalSession,
  Stats,
} from '../../core/api-client.js';
import type { jobView } from '../../registry/jobs.js';
import type { Portal } from '../../registry/portal.js';
import type { Stats as StatsService } from '../../registry/stats.js';

// The client's objects that the registry builds outside registry/views.ts are written out in
// core/api-client.ts (the browser cannot import the registry's modules). These checks make
// `npm run typecheck` fail the day the two differ.

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Json<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? Json<U>[]
    : T extends object
      ? { -readonly [K in keyof T]: Json<T[K]> }
      : T;

const checks: {
  stats: Same<Stats, Json<Awaited<ReturnType<StatsService['query']>>>>;
  job: Same<Job, Json<ReturnType<typeof jobView>>>;
  link: Same<PortalLink, Json<Awaited<ReturnType<Portal['createLink']>>>>;
  session: Same<PortalSession, Json<Awaited<ReturnType<Portal['exchange']>>>>;
} = { stats: true, job: true, link: true, session: true };

// Written where the route builds them (registry/routes/portal.ts, endpoints.ts): shapes only.
const me: Me = { kind: 'admin', id: 'admin', name: 'admin', expires_at: null, portal: false };
const secret: EndpointSecret = {
  secret: 'whsec_x',
  previous: [{ secret: 'whsec_y', expires_at: null }],
};

test('the client types of stats, jobs and portal links are the registry’s', () => {
  assert.deepEqual(Object.values(checks), [true, true, true, true]);
  assert.ok(me && secret);
});
