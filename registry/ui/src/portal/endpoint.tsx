import { useEffect, useState } from 'preact/hooks';
import type { Endpoint, EndpointSecret } from '../../../../core/api-client.js';
import { DeliveryChart, LatencyChart } from '../shared/chart.js';
import {
  Badge,
  Circuit,
  Confirm,
  Dl,
  ErrorNote,
  Form,
  Secret,
  Show,
  Time,
} from '../shared/components.js';
import { useSession } from '../shared/context.js';
import { DeliveryTable } from '../shared/deliveries.js';
import { EndpointControls, TestEventForm } from '../shared/endpoint-actions.js';
import { percent } from '../shared/format.js';
import { listAll, useAction, useAsync, useInterval, usePaged } from '../shared/hooks.js';
import { navigate } from '../shared/router.js';
import { TopicChecks, Verification } from './add-endpoint.js';
import { Snippets } from './snippets.js';

export function PortalEndpoint({ id }: { id: string }) {
  const { api } = useSession();
  const loaded = useAsync(() => api.endpoints.get(id), [id]);
  const [endpoint, setEndpoint] = useState<Endpoint | undefined>(undefined);
  useEffect(() => setEndpoint(loaded.data), [loaded.data]);
  const [secret, setSecret] = useState<EndpointSecret | null>(null);
  const deliveries = usePaged(
    (cursor) => api.deliveries.list({ endpoint_id: id, cursor, limit: 20 }),
    [id],
  );
  const reveal = useAction(async () => setSecret(await api.endpoints.secret(id)));
  const remove = useAction(async () => {
    await api.endpoints.remove(id);
    navigate('/portal');
  });
  const changed = (e: Endpoint) => {
    setEndpoint(e);
    if (e.secret) setSecret(null);
    deliveries.reload();
  };
  return (
    <>
      <p>
        <a href="/portal">← Your endpoints</a>
      </p>
      <Show state={{ ...loaded, data: endpoint ?? loaded.data }} what="Loading the endpoint">
        {(e) => (
          <>
            <section class="panel" aria-label="Endpoint">
              <div class="spread">
                <h1 class="wrap">{e.url}</h1>
                <Badge status={e.status} />
              </div>
              <Dl
                rows={[
                  ['Id', <span class="mono">{e.id}</span>],
                  ['Description', e.description || '–'],
                  ['Rate limit', e.rate_limit ? `${e.rate_limit} requests/s` : 'none'],
                  ['Failing since', <Time iso={e.failing_since} />],
                  ['Circuit', <Circuit circuit={e.circuit} />],
                  ['Disabled because', e.disabled_reason ?? '–'],
                  ['Added', <Time iso={e.created_at} />],
                ]}
              />
              <Verification endpoint={e} onVerified={changed} />
              <EndpointControls endpoint={e} onChange={changed}>
                <Confirm
                  label="Delete"
                  question="Delete this endpoint? Its pending deliveries fail."
                  onConfirm={() => void remove.run()}
                />
              </EndpointControls>
              <ErrorNote error={remove.error} />
            </section>
            <EditTopics endpoint={e} onChange={changed} />
            <section class="panel" aria-label="Signing secret">
              <h2>Signing secret</h2>
              {secret ? (
                <>
                  <Secret label="Current secret" value={secret.secret} />
                  {secret.previous.length > 0 ? (
                    <p class="muted">
                      {secret.previous.length} earlier secret(s) still sign beside it until they
                      expire (24 hours after a rotation).
                    </p>
                  ) : null}
                </>
              ) : (
                <button type="button" class="secondary" onClick={() => void reveal.run()}>
                  Reveal the secret
                </button>
              )}
              <ErrorNote error={reveal.error} />
            </section>
            <TestEventForm endpoint={e} />
            <EndpointStats id={e.id} />
            <Snippets secret={secret?.secret ?? null} />
          </>
        )}
      </Show>
      <h2>Deliveries</h2>
      <DeliveryTable list={deliveries} showEndpoint={false} empty="Nothing delivered to it yet." />
    </>
  );
}

function EditTopics({
  endpoint,
  onChange,
}: {
  endpoint: Endpoint;
  onChange: (e: Endpoint) => void;
}) {
  const { api } = useSession();
  const topics = useAsync(() => listAll((cursor) => api.topics.list({ cursor, limit: 500 })), []);
  const save = useAction(async (v: Record<string, string>) => {
    const chosen = (v.topics ?? '').split(',').filter(Boolean);
    if (chosen.length === 0) throw new Error('Keep at least one topic (or delete the endpoint).');
    const e = await api.endpoints.update(endpoint.id, { topics: chosen });
    onChange(e);
    return e;
  });
  return (
    <section class="panel" aria-label="Topics">
      <h2>Topics</h2>
      <Show state={topics} what="Loading the catalogue">
        {(list) => (
          <Form
            key={endpoint.topics.join(',')}
            label="Topics of this endpoint"
            onSubmit={(v) => void save.run(v)}
          >
            <TopicChecks topics={list} checked={endpoint.topics} />
            <button type="submit" disabled={save.running}>
              Save topics
            </button>
          </Form>
        )}
      </Show>
      {save.result ? (
        <div class="note note-ok" role="status">
          Saved: it receives {save.result.topics.join(', ')}.
        </div>
      ) : null}
      <ErrorNote error={save.error} />
    </section>
  );
}

/** Success rate and latency over the last day, from /v1/stats for this endpoint. */
function EndpointStats({ id }: { id: string }) {
  const { api } = useSession();
  const stats = useAsync(() => {
    const to = new Date();
    return api.stats({
      endpoint_id: id,
      from: new Date(to.getTime() - 86_400_000).toISOString(),
      to: to.toISOString(),
      bucket: '1h',
    });
  }, [id]);
  useInterval(stats.reload, 5000, true);
  return (
    <section class="panel" aria-label="Success rate and latency">
      <h2>Last 24 hours</h2>
      <Show state={stats} what="Loading statistics">
        {(s) => (
          <>
            <p>
              Success rate{' '}
              <strong data-testid="success-rate">
                {percent(s.totals.succeeded, s.totals.succeeded + s.totals.failed)}
              </strong>{' '}
              ({s.totals.succeeded} succeeded, {s.totals.failed} failed attempts)
            </p>
            <div class="charts">
              <DeliveryChart series={s.series} title="Attempts per hour" />
              <LatencyChart series={s.series} title="Average duration per hour" />
            </div>
          </>
        )}
      </Show>
    </section>
  );
}
