import { ApiError } from '../../../../core/api-client.js';
import { DeliveryTable } from '../shared/deliveries.js';
import { Dl, Field, Form, Json, Show, Time, PagedTable } from '../shared/components.js';
import { useSession } from '../shared/context.js';
import { fromLocalInput, pretty } from '../shared/format.js';
import { useAsync, usePaged } from '../shared/hooks.js';
import { navigate, useLocation, withQuery } from '../shared/router.js';

export function MessagesPage() {
  const { api } = useSession();
  const { query } = useLocation();
  const f = {
    topic: query.get('topic') ?? '',
    idempotency_key: query.get('idempotency_key') ?? '',
    from: query.get('from') ?? '',
    to: query.get('to') ?? '',
  };
  const list = usePaged(
    (cursor) =>
      api.messages.list({
        cursor,
        topic: f.topic || undefined,
        idempotency_key: f.idempotency_key || undefined,
        from: fromLocalInput(f.from),
        to: fromLocalInput(f.to),
      }),
    [f.topic, f.idempotency_key, f.from, f.to],
  );
  return (
    <>
      <h1>Messages</h1>
      <Form
        key={query.toString()}
        label="Search messages"
        class="filters panel"
        onSubmit={(v) => {
          const id = v.id?.trim();
          if (id) navigate(`/messages/${encodeURIComponent(id)}`);
          else navigate(withQuery('/messages', { ...v, id: undefined }));
        }}
      >
        <Field label="Message id">
          <input name="id" placeholder="msg_…" />
        </Field>
        <Field label="Topic">
          <input name="topic" defaultValue={f.topic} />
        </Field>
        <Field label="Idempotency key">
          <input name="idempotency_key" defaultValue={f.idempotency_key} />
        </Field>
        <Field label="From">
          <input name="from" type="datetime-local" defaultValue={f.from} />
        </Field>
        <Field label="To">
          <input name="to" type="datetime-local" defaultValue={f.to} />
        </Field>
        <button type="submit">Search</button>
      </Form>
      <PagedTable
        list={list}
        what="Loading messages"
        label="Messages"
        empty="No message matches."
        head={
          <>
            <th>Message</th>
            <th>Topic</th>
            <th class="opt">Idempotency key</th>
            <th>Published</th>
          </>
        }
        row={(m) => (
          <tr key={m.id} data-id={m.id}>
            <td class="mono id">
              <a href={`/messages/${encodeURIComponent(m.id)}`} title={m.id}>
                {m.id}
              </a>
            </td>
            <td>{m.topic}</td>
            <td class="opt">{m.idempotency_key ?? '–'}</td>
            <td>
              <Time iso={m.created_at} />
            </td>
          </tr>
        )}
      />
    </>
  );
}

/** A message: its payload and its fan-out, one row per delivery. */
export function MessagePage({ id }: { id: string }) {
  const { api } = useSession();
  const message = useAsync(() => api.messages.get(id), [id]);
  const fanout = usePaged((cursor) => api.messages.deliveries(id, { cursor }), [id]);
  const missing = message.error instanceof ApiError && message.error.status === 404;
  return (
    <>
      <h1>
        Message <span class="mono">{id}</span>
      </h1>
      <Show state={message} what="Loading the message">
        {(m) => (
          <section class="panel" aria-label="Message">
            <Dl
              rows={[
                ['Topic', <a href={`/topics/${encodeURIComponent(m.topic)}`}>{m.topic}</a>],
                ['Idempotency key', m.idempotency_key ?? '–'],
                ['Published', <Time iso={m.created_at} />],
              ]}
            />
            <h2>Payload</h2>
            <Json value={pretty(m.data)} />
          </section>
        )}
      </Show>
      {missing ? null : (
        <>
          <h2>Fan-out</h2>
          <DeliveryTable
            list={fanout}
            endpointHref={(e) => `/endpoints/${encodeURIComponent(e)}`}
            empty="No delivery: no endpoint was subscribed to its topic when it was fanned out (or fan-out has not happened yet)."
          />
        </>
      )}
    </>
  );
}
