import { useEffect, useState } from 'preact/hooks';
import type { Endpoint, EndpointStatus } from '../../../../core/api-client.js';
import { DeliveryTable } from '../shared/deliveries.js';
import { EndpointControls, TestEventForm } from '../shared/endpoint-actions.js';
import { Badge, Circuit, Dl, Field, Form, Show, Time, PagedTable } from '../shared/components.js';
import { useSession } from '../shared/context.js';
import { useAsync, usePaged } from '../shared/hooks.js';
import { navigate, useLocation, withQuery } from '../shared/router.js';

const STATUSES: EndpointStatus[] = ['active', 'pending', 'disabled'];

export function EndpointsPage() {
  const { api } = useSession();
  const { query } = useLocation();
  const f = {
    url: query.get('url') ?? '',
    owner_id: query.get('owner_id') ?? '',
    status: (query.get('status') ?? '') as EndpointStatus | '',
    topic: query.get('topic') ?? '',
  };
  const list = usePaged(
    (cursor) =>
      api.endpoints.list({
        cursor,
        url: f.url || undefined,
        owner_id: f.owner_id || undefined,
        status: f.status || undefined,
        topic: f.topic || undefined,
      }),
    [f.url, f.owner_id, f.status, f.topic],
  );
  return (
    <>
      <h1>Endpoints</h1>
      <Form
        key={query.toString()}
        label="Search endpoints"
        class="filters panel"
        onSubmit={(v) => navigate(withQuery('/endpoints', v))}
      >
        <Field label="URL contains">
          <input name="url" defaultValue={f.url} type="search" />
        </Field>
        <Field label="Owner (subscriber id)">
          <input name="owner_id" defaultValue={f.owner_id} />
        </Field>
        <Field label="Topic">
          <input name="topic" defaultValue={f.topic} />
        </Field>
        <Field label="Status">
          <select name="status">
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s} selected={s === f.status}>
                {s}
              </option>
            ))}
          </select>
        </Field>
        <button type="submit">Search</button>
      </Form>
      <PagedTable
        list={list}
        what="Loading endpoints"
        label="Endpoints"
        empty="No endpoint matches."
        head={
          <>
            <th>URL</th>
            <th>Status</th>
            <th class="opt">Topics</th>
            <th class="opt">Owner</th>
            <th class="opt">Failing since</th>
          </>
        }
        row={(e) => (
          <tr key={e.id} data-id={e.id}>
            <td class="wrap">
              <a href={`/endpoints/${encodeURIComponent(e.id)}`}>{e.url}</a>
            </td>
            <td>
              <Badge status={e.status} />
            </td>
            <td class="opt">
              {e.topics.map((t) => (
                <span key={t} class="chip">
                  {t}
                </span>
              ))}
            </td>
            <td class="mono opt">{e.owner_id ?? 'admin'}</td>
            <td class="opt">
              <Time iso={e.failing_since} />
            </td>
          </tr>
        )}
      />
    </>
  );
}

export function EndpointPage({ id }: { id: string }) {
  const { api, me } = useSession();
  const loaded = useAsync(() => api.endpoints.get(id), [id]);
  const [endpoint, setEndpoint] = useState<Endpoint | undefined>(undefined);
  useEffect(() => setEndpoint(loaded.data), [loaded.data]);
  const deliveries = usePaged(
    (cursor) => api.deliveries.list({ endpoint_id: id, cursor, limit: 20 }),
    [id],
  );
  return (
    <>
      <h1>Endpoint</h1>
      <Show state={{ ...loaded, data: endpoint ?? loaded.data }} what="Loading the endpoint">
        {(e) => (
          <>
            <section class="panel" aria-label="Endpoint">
              <div class="spread">
                <h2 class="wrap">{e.url}</h2>
                <Badge status={e.status} />
              </div>
              <Dl
                rows={[
                  ['Id', <span class="mono">{e.id}</span>],
                  ['Owner', e.owner_id ? <span class="mono">{e.owner_id}</span> : 'admin'],
                  [
                    'Topics',
                    e.topics.map((t) => (
                      <a key={t} class="chip" href={`/topics/${encodeURIComponent(t)}`}>
                        {t}
                      </a>
                    )),
                  ],
                  ['Description', e.description || '–'],
                  ['Rate limit', e.rate_limit ? `${e.rate_limit} requests/s` : 'none'],
                  ['Failing since', <Time iso={e.failing_since} />],
                  ['Circuit', <Circuit circuit={e.circuit} />],
                  ['Disabled because', e.disabled_reason ?? '–'],
                  ['Created', <Time iso={e.created_at} />],
                  ['Updated', <Time iso={e.updated_at} />],
                ]}
              />
              {me.kind === 'admin' ? (
                <EndpointControls
                  endpoint={e}
                  onChange={(next) => {
                    setEndpoint(next);
                    deliveries.reload();
                  }}
                />
              ) : null}
            </section>
            {me.kind === 'admin' ? <TestEventForm endpoint={e} /> : null}
          </>
        )}
      </Show>
      <div class="spread">
        <h2>Recent deliveries</h2>
        <a href={withQuery('/deliveries', { endpoint_id: id })}>All, with filters</a>
      </div>
      <DeliveryTable list={deliveries} showEndpoint={false} empty="Nothing delivered to it yet." />
    </>
  );
}
