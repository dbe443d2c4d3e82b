import type { DeliveryFilter, DeliveryStatus } from '../../../../core/api-client.js';
import { DeliveryDetail, DeliveryTable, RetryAll } from '../shared/deliveries.js';
import { Field, Form } from '../shared/components.js';
import { useSession } from '../shared/context.js';
import { fromLocalInput } from '../shared/format.js';
import { usePaged } from '../shared/hooks.js';
import { navigate, useLocation, withQuery } from '../shared/router.js';

const STATUSES: DeliveryStatus[] = ['pending', 'succeeded', 'failed'];
const endpointHref = (id: string) => `/endpoints/${encodeURIComponent(id)}`;
const messageHref = (id: string) => `/messages/${encodeURIComponent(id)}`;

export function DeliveriesPage() {
  const { api, me } = useSession();
  const { query } = useLocation();
  const f = {
    status: (query.get('status') ?? '') as DeliveryStatus | '',
    endpoint_id: query.get('endpoint_id') ?? '',
    message_id: query.get('message_id') ?? '',
    topic: query.get('topic') ?? '',
    from: query.get('from') ?? '',
    to: query.get('to') ?? '',
  };
  const filter: DeliveryFilter = {
    status: f.status || undefined,
    endpoint_id: f.endpoint_id || undefined,
    message_id: f.message_id || undefined,
    topic: f.topic || undefined,
    from: fromLocalInput(f.from),
    to: fromLocalInput(f.to),
  };
  const list = usePaged(
    (cursor) => api.deliveries.list({ ...filter, cursor }),
    [f.status, f.endpoint_id, f.message_id, f.topic, f.from, f.to],
  );
  return (
    <>
      <h1>Deliveries</h1>
      <Form
        key={query.toString()}
        label="Filter deliveries"
        class="filters panel"
        onSubmit={(v) => navigate(withQuery('/deliveries', v))}
      >
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
        <Field label="Endpoint id">
          <input name="endpoint_id" defaultValue={f.endpoint_id} placeholder="ep_…" />
        </Field>
        <Field label="Topic">
          <input name="topic" defaultValue={f.topic} />
        </Field>
        <Field label="Message id">
          <input name="message_id" defaultValue={f.message_id} placeholder="msg_…" />
        </Field>
        <Field label="From">
          <input name="from" type="datetime-local" defaultValue={f.from} />
        </Field>
        <Field label="To">
          <input name="to" type="datetime-local" defaultValue={f.to} />
        </Field>
        <button type="submit">Filter</button>
      </Form>
      {me.kind === 'admin' ? <RetryAll filter={filter} onEnd={list.reload} /> : null}
      <DeliveryTable list={list} endpointHref={endpointHref} empty="No delivery matches." />
    </>
  );
}

export function DeliveryPage({ id }: { id: string }) {
  return <DeliveryDetail id={id} endpointHref={endpointHref} messageHref={messageHref} />;
}
