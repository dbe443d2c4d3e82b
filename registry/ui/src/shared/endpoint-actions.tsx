import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { Endpoint, TestEvent } from '../../../../core/api-client.js';
import { Badge, ErrorNote, Field, Form, Secret, Time } from './components.js';
import { useSession } from './context.js';
import { useAction, useAsync, useInterval } from './hooks.js';

/** Enable or disable, rotate the secret: the same buttons in the console and the portal. */
export function EndpointControls({
  endpoint,
  onChange,
  children,
}: {
  endpoint: Endpoint;
  onChange: (e: Endpoint) => void;
  /** More actions for the same row (the portal's Delete). */
  children?: ComponentChildren;
}) {
  const { api } = useSession();
  const [secret, setSecret] = useState<string | null>(null);
  const act = useAction(async (what: 'enable' | 'disable' | 'rotate') => {
    const e =
      what === 'enable'
        ? await api.endpoints.enable(endpoint.id)
        : what === 'disable'
          ? await api.endpoints.disable(endpoint.id)
          : await api.endpoints.rotateSecret(endpoint.id);
    if (what === 'rotate' && e.secret) setSecret(e.secret);
    onChange(e);
    return e;
  });
  return (
    <div>
      <div class="row">
        {endpoint.status === 'disabled' ? (
          <button type="button" onClick={() => void act.run('enable')} disabled={act.running}>
            Enable
          </button>
        ) : (
          <button
            type="button"
            class="secondary"
            onClick={() => void act.run('disable')}
            disabled={act.running}
          >
            Disable
          </button>
        )}
        <button
          type="button"
          class="secondary"
          onClick={() => void act.run('rotate')}
          disabled={act.running}
        >
          Rotate secret
        </button>
        {children}
      </div>
      <ErrorNote error={act.error} />
      {secret ? (
        <div class="note note-wait" role="status">
          <p>
            The new secret signs from now on; the previous one keeps signing beside it for 24 hours.
          </p>
          <Secret label="New signing secret" value={secret} />
        </div>
      ) : null}
    </div>
  );
}

/** Sends a test event to the endpoint and follows its delivery until it ends. */
export function TestEventForm({ endpoint }: { endpoint: Endpoint }) {
  const { api, base } = useSession();
  const [sent, setSent] = useState<TestEvent | null>(null);
  const send = useAction(async (v: Record<string, string>) => {
    let data: unknown;
    if (v.data?.trim()) {
      try {
        data = JSON.parse(v.data);
      } catch {
        throw new Error('The data is not valid JSON.');
      }
    }
    const r = await api.endpoints.test(endpoint.id, {
      ...(v.topic ? { topic: v.topic } : {}),
      ...(data === undefined ? {} : { data }),
    });
    setSent(r);
    return r;
  });
  const id = sent?.delivery.id;
  const delivery = useAsync(() => (id ? api.deliveries.get(id) : Promise.resolve(null)), [id]);
  const attempts = useAsync(
    () => (id ? api.deliveries.attempts(id, { limit: 1 }) : Promise.resolve(null)),
    [id, delivery.data?.status, delivery.data?.attempts],
  );
  const d = delivery.data ?? sent?.delivery;
  useInterval(delivery.reload, 500, Boolean(id) && (!d || d.status === 'pending'));
  const last = attempts.data?.data[0];
  return (
    <section class="panel" aria-label="Send a test event">
      <h2>Send a test event</h2>
      <Form label="Send a test event" onSubmit={(v) => void send.run(v)}>
        <Field label="Topic">
          <select name="topic">
            {endpoint.topics.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Data (JSON, optional)">
          <textarea name="data" rows={2} placeholder='{"test": true}' />
        </Field>
        <button type="submit" disabled={send.running || endpoint.status !== 'active'}>
          {send.running ? 'Sending…' : 'Send test event'}
        </button>
      </Form>
      {endpoint.status !== 'active' ? (
        <p class="muted">Only an active endpoint receives events.</p>
      ) : null}
      <ErrorNote error={send.error} />
      {d ? (
        <div
          class={`note ${d.status === 'succeeded' ? 'note-ok' : d.status === 'failed' ? 'note-error' : 'note-wait'}`}
          role="status"
          data-testid="test-result"
        >
          Test delivery{' '}
          <a class="mono" href={`${base}/deliveries/${encodeURIComponent(d.id)}`}>
            {d.id}
          </a>
          : <Badge status={d.status} />{' '}
          {last
            ? `${last.status_code ? `HTTP ${last.status_code}` : (last.error ?? 'no answer')} in ${last.duration_ms} ms`
            : d.status === 'pending'
              ? 'on its way…'
              : ''}
          {last ? (
            <>
              {' '}
              at <Time iso={last.created_at} />
            </>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
