import type { DeliveryStatus } from '../../../../core/api-client.js';
import { DeliveryDetail, DeliveryTable, RetryAll } from '../shared/deliveries.js';
import { Field, Form } from '../shared/components.js';
import { useSession } from '../shared/context.js';
import { listAll, useAsync, usePaged } from '../shared/hooks.js';
import { navigate, useLocation, withQuery } from '../shared/router.js';

const endpointHref = (id: string) => `/portal/endpoints/${encodeURIComponent(id)}`;

/** The deliveries of the subscriber's own endpoints (the API shows it no others). */
export function PortalDeliveries() {
  const { api } = useSession();
  const { query } = useLocation();
  const status = (query.get('status') ?? '') as DeliveryStatus | '';
  const endpointId = query.get('endpoint_id') ?? '';
  const endpoints = useAsync(
    () => listAll((cursor) => api.endpoints.list({ cursor, limit: 200 })),
    [],
  );
  const list = usePaged(
    (cursor) =>
      api.deliveries.list({
        cursor,
        status: status || undefined,
        endpoint_id: endpointId || undefined,
      }),
    [status, endpointId],
  );
  return (
    <>
      <h1>Deliveries</h1>
      <Form
        key={query.toString()}
        label="Filter deliveries"
        class="filters panel"
        onSubmit={(v) => navigate(withQuery('/portal/deliveries', v))}
      >
        <Field label="Endpoint">
          <select name="endpoint_id">
            <option value="">all of yours</option>
            {(endpoints.data ?? []).map((e) => (
              <option key={e.id} value={e.id} selected={e.id === endpointId}>
                {e.url}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Status">
          <select name="status">
            <option value="">any</option>
            {(['pending', 'succeeded', 'failed'] as const).map((s) => (
              <option key={s} value={s} selected={s === status}>
                {s}
              </option>
            ))}
          </select>
        </Field>
        <button type="submit">Filter</button>
      </Form>
      {status === 'failed' ? (
        <RetryAll filter={{ endpoint_id: endpointId || undefined }} onEnd={list.reload} />
      ) : null}
      <DeliveryTable
        list={list}
        endpointHref={endpointHref}
        empty="No deliveries yet: they appear here when an event is published on one of your topics."
      />
    </>
  );
}

export function PortalDelivery({ id }: { id: string }) {
  return (
    <>
      <p>
        <a href="/portal/deliveries">← Deliveries</a>
      </p>
      <DeliveryDetail id={id} endpointHref={endpointHref} />
    </>
  );
}
