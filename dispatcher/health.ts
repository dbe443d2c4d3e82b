import { createHash } from 'node:crypto';
import { SYSTEM_TOPICS } from '../core/event.js';
import { randomBytes } from 'node:crypto';
import { encodeBytes } from '../core/ids.js';
import { publishEvent } from '../core/publish.js';
import type { DispatcherContext } from './context.js';
import type { CircuitState } from './gate.js';
import type { LiveEndpoint } from './subscriptions.js';

/**
 * How long an endpoint has been failing, and disabling it: after a 410, or when every
 * attempt has failed for HOOKLINE_DISABLE_AFTER. `failing_since` lives on the endpoint in
 * MongoDB (the first dispatcher to see a failure after a success sets it), so the clock is
 * the cluster's, not one process's. A disabled endpoint is announced on NATS and reported
 * as a `hookline.endpoint.disabled` event, which reaches only the endpoint owner's own
 * endpoints and those without an owner (fan-out enforces it, see H.audience).
 */
export function createEndpointHealth(ctx: DispatcherContext) {
  const { endpoints } = ctx.mongo.col;
  const disabling = new Set<string>();
  // This dispatcher's key among an endpoint's open circuits (each dispatcher has its own).
  const self = `d${encodeBytes(randomBytes(10), 16)}`;

  async function disable(e: LiveEndpoint, reason: string): Promise<void> {
    if (disabling.has(e.id)) return;
    disabling.add(e.id);
    try {
      ctx.subscriptions.markDisabled(e.id);
      const now = new Date();
      const res = await endpoints.updateOne(
        { _id: e.id, status: 'active' },
        { $set: { status: 'disabled', disabled_reason: reason, updated_at: now } },
      );
      if (res.modifiedCount === 0) return; // someone else (a dispatcher, the API) got there first
      ctx.nc.publish(
        ctx.names.changesSubject,
        JSON.stringify({ kind: 'endpoint', op: 'upsert', id: e.id }),
      );
      ctx.log.warn({ endpoint_id: e.id, reason }, 'endpoint disabled');
      const id = `msg_${encodeBytes(createHash('sha256').update(`disabled:${e.id}:${now.getTime()}`).digest(), 26)}`;
      await publishEvent(ctx.js, ctx.config.namespace, {
        id,
        topic: SYSTEM_TOPICS.endpointDisabled.name,
        data: {
          endpoint_id: e.id,
          url: e.url,
          reason,
          failing_since: e.failingSince ? new Date(e.failingSince).toISOString() : null,
          disabled_at: now.toISOString(),
        },
        at: now,
        audience: e.ownerId,
      }).catch((err: unknown) =>
        ctx.log.warn({ err, endpoint_id: e.id }, 'could not publish endpoint.disabled'),
      );
    } finally {
      disabling.delete(e.id);
    }
  }

  return {
    disable,
    /** Shows this dispatcher's circuit for the endpoint on its record (a rare write). */
    circuit(endpointId: string, c: CircuitState): void {
      const field = `circuits.${self}`;
      const write = c.open
        ? endpoints.updateOne(
            { _id: endpointId },
            { $set: { [field]: { opened_at: new Date(c.since), probe_at: new Date(c.probeAt) } } },
          )
        : endpoints.updateOne({ _id: endpointId }, { $unset: { [field]: '' as const } });
      void write.catch((err: unknown) =>
        ctx.log.warn({ err, endpoint_id: endpointId }, 'could not record the circuit'),
      );
    },
    succeeded(e: LiveEndpoint): void {
      if (e.failingSince === null) return;
      e.failingSince = null;
      void endpoints
        .updateOne({ _id: e.id }, { $set: { failing_since: null } })
        .catch((err: unknown) => ctx.log.warn({ err }, 'could not clear failing_since'));
    },
    async failed(e: LiveEndpoint): Promise<void> {
      const now = Date.now();
      if (e.failingSince === null) {
        e.failingSince = now;
        // The first failure after a success starts the clock; a clock already running wins.
        await endpoints
          .updateOne({ _id: e.id, failing_since: null }, { $set: { failing_since: new Date(now) } })
          .catch((err: unknown) => ctx.log.warn({ err }, 'could not set failing_since'));
        return;
      }
      if (now - e.failingSince >= ctx.config.disableAfter) {
        await disable(e, `failing continuously since ${new Date(e.failingSince).toISOString()}`);
      }
    },
  };
}
