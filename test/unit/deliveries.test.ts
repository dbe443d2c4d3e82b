import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { attemptOf, merged, newDelivery, outcomeOf, withDefaults } from '../../core/deliveries.js';
import type { AttemptDoc, DeliveryDoc, OutcomeDoc } from '../../core/model.js';

const created = new Date('2026-11-29T10:00:00.000Z');

function delivery(ownerId: string | null, generation = 0): DeliveryDoc {
  return withDefaults({
    ...newDelivery({
      id: 'dlv_abc',
      messageId: 'msg_abc',
      endpointId: 'ep_abc',
      ownerId,
      topic: 'book.created',
      maxAttempts: 8,
      createdAt: created,
    }),
    generation,
  });
}

function attempt(
  at: Date,
  statusCode: number | null,
  error: string | null,
  body: string,
): AttemptDoc {
  return {
    _id: 'att_1',
    delivery_id: 'dlv_abc',
    message_id: 'msg_abc',
    endpoint_id: 'ep_abc',
    status_code: statusCode,
    error,
    duration_ms: 3.5,
    response_body: body,
    created_at: at,
  };
}

test('an outcome stores what the delivery does not say, and reads back whole', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(null, 'own_1'),
      fc.constantFrom(0, 2),
      fc.constantFrom<[number | null, string | null]>(
        [200, null],
        [500, 'HTTP 500'],
        [null, 'connection refused'],
      ),
      fc.constantFrom('', 'ok'),
      fc.boolean(),
      (owner, generation, [code, error], body, sameTime) => {
        const at = new Date(created.getTime() + 1234);
        const now = sameTime ? at : new Date(at.getTime() + 5);
        const a = attempt(at, code, error, body);
        const status = code === 200 ? 'succeeded' : 'failed';
        const ended = {
          ...delivery(owner, generation),
          attempts: 3,
          last_status_code: code,
          last_error: error,
        };
        const o = outcomeOf(ended, status, a, now);
        assert.equal(o._id, `dlv_abc:${generation}`);
        assert.equal('topic' in o || 'delivery_id' in o || 'generation' in o, false);
        assert.equal('owner_id' in o, owner !== null);
        assert.equal('last_status_code' in o || 'last_error' in o, false);
        assert.deepEqual(attemptOf(o), a);
        const d = merged(delivery(owner, generation), o);
        assert.equal(d.status, status);
        assert.equal(d.attempts, 3);
        assert.equal(d.last_status_code, code);
        assert.equal(d.last_error, error);
        assert.equal(d.next_attempt_at, null);
        assert.equal(d.updated_at, now);
        assert.equal(d.topic, 'book.created');
        assert.equal(d.owner_id, owner);
        // An outcome of another generation does not describe the delivery.
        assert.equal(merged(delivery(owner, generation + 1), o).status, 'pending');
      },
    ),
  );
});

test('an outcome without an attempt keeps the last result it was given', () => {
  const ended = { ...delivery(null), attempts: 2, last_status_code: 503, last_error: 'gone away' };
  const now = new Date(created.getTime() + 10);
  const o = outcomeOf({ ...ended, last_error: 'endpoint deleted' }, 'failed', null, now);
  assert.equal(attemptOf(o), null);
  const d = merged(delivery(null), o);
  assert.equal(d.last_status_code, 503);
  assert.equal(d.last_error, 'endpoint deleted');
});

test('an outcome stored whole by an earlier version reads the same', () => {
  const at = new Date(created.getTime() + 50);
  const a = attempt(at, 200, null, '');
  const legacy = {
    _id: 'dlv_abc:0',
    delivery_id: 'dlv_abc',
    message_id: 'msg_abc',
    endpoint_id: 'ep_abc',
    owner_id: null,
    topic: 'book.created',
    status: 'succeeded',
    attempts: 1,
    max_attempts: 8,
    generation: 0,
    next_attempt_at: null,
    last_status_code: 200,
    last_error: null,
    created_at: created,
    updated_at: at,
    attempt: a,
  } as OutcomeDoc;
  assert.deepEqual(attemptOf(legacy), a);
  const d = merged(delivery(null), legacy);
  assert.deepEqual(d, {
    ...delivery(null),
    status: 'succeeded',
    attempts: 1,
    next_attempt_at: null,
    last_status_code: 200,
    last_error: null,
    updated_at: at,
  });
});

test('a fresh delivery is stored without its defaults, and reads back with them', () => {
  const stored = newDelivery({
    id: 'dlv_abc',
    messageId: 'msg_abc',
    endpointId: 'ep_abc',
    ownerId: null,
    topic: 'book.created',
    maxAttempts: 8,
    createdAt: created,
  });
  assert.deepEqual(Object.keys(stored).sort(), [
    '_id',
    'created_at',
    'endpoint_id',
    'max_attempts',
    'message_id',
    'topic',
  ]);
  const d = withDefaults(stored);
  assert.equal(d.status, 'pending');
  assert.equal(d.attempts, 0);
  assert.equal(d.generation, 0);
  assert.equal(d.owner_id, null);
  assert.equal(d.next_attempt_at, created);
  assert.equal(d.updated_at, created);
});
