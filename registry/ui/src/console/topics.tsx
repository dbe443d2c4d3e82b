import { ApiError } from '../../../../core/api-client.js';
import {
  Badge,
  Empty,
  ErrorNote,
  Field,
  Form,
  Pager,
  Show,
  Time,
  PagedTable,
} from '../shared/components.js';
import { useSession } from '../shared/context.js';
import { useAction, useAsync, usePaged } from '../shared/hooks.js';
import { withQuery } from '../shared/router.js';

export function TopicsPage() {
  const { api, me } = useSession();
  const list = usePaged((cursor) => api.topics.list({ cursor }), []);
  const create = useAction(async (v: Record<string, string>, form: HTMLFormElement) => {
    const t = await api.topics.create({
      name: (v.name ?? '').trim(),
      ...(v.description ? { description: v.description } : {}),
    });
    form.reset();
    list.reload();
    return t;
  });
  return (
    <>
      <h1>Topics</h1>
      {me.kind === 'admin' || me.kind === 'publisher' ? (
        <section class="panel" aria-label="New topic">
          <h2>New topic</h2>
          <Form label="New topic" onSubmit={(v, f) => void create.run(v, f)}>
            <Field label="Name" hint="Letters, digits, . _ -: e.g. book.created">
              <input name="name" required maxLength={128} pattern="[A-Za-z0-9._\-]+" />
            </Field>
            <Field label="Description">
              <input name="description" maxLength={1024} />
            </Field>
            <button type="submit" disabled={create.running}>
              Create topic
            </button>
          </Form>
          {create.result ? (
            <div class="note note-ok" role="status">
              Topic <strong>{create.result.name}</strong> created.
            </div>
          ) : null}
          <ErrorNote error={create.error} />
        </section>
      ) : null}
      <PagedTable
        list={list}
        what="Loading topics"
        label="Topics"
        empty="No topics yet: create the first one above."
        head={
          <>
            <th>Name</th>
            <th>Description</th>
            <th class="opt">Created</th>
          </>
        }
        row={(t) => (
          <tr key={t.id}>
            <td>
              <a href={`/topics/${encodeURIComponent(t.name)}`}>{t.name}</a>
            </td>
            <td>{t.description || <span class="muted">–</span>}</td>
            <td class="opt">
              <Time iso={t.created_at} />
            </td>
          </tr>
        )}
      />
    </>
  );
}

/** One topic: its description, the endpoints subscribed to it, its latest messages. */
export function TopicPage({ name }: { name: string }) {
  const { api } = useSession();
  const topic = useAsync(() => api.topics.get(name), [name]);
  const endpoints = usePaged((cursor) => api.endpoints.list({ topic: name, cursor }), [name]);
  const messages = usePaged(
    (cursor) => api.messages.list({ topic: name, cursor, limit: 20 }),
    [name],
  );
  return (
    <>
      <h1>
        Topic <span class="mono">{name}</span>
      </h1>
      <Show state={topic} what="Loading the topic">
        {(t) => (
          <section class="panel">
            <p>{t.description || <span class="muted">No description.</span>}</p>
            <p class="muted">
              Created <Time iso={t.created_at} /> ·{' '}
              <a href={withQuery('/deliveries', { topic: name })}>its deliveries</a>
            </p>
          </section>
        )}
      </Show>
      <h2>Subscribed endpoints</h2>
      <Show state={endpoints}>
        {(page) =>
          page.data.length === 0 ? (
            <Empty>No endpoint subscribes to this topic.</Empty>
          ) : (
            <ul>
              {page.data.map((e) => (
                <li key={e.id}>
                  <a href={`/endpoints/${encodeURIComponent(e.id)}`}>{e.url}</a>{' '}
                  <Badge status={e.status} />
                </li>
              ))}
            </ul>
          )
        }
      </Show>
      <h2>Latest messages</h2>
      <Show state={messages}>
        {(page) =>
          page.data.length === 0 ? (
            <Empty>Nothing published on this topic yet.</Empty>
          ) : (
            <>
              <ul>
                {page.data.map((m) => (
                  <li key={m.id}>
                    <a class="mono" href={`/messages/${encodeURIComponent(m.id)}`}>
                      {m.id}
                    </a>{' '}
                    <Time iso={m.created_at} />
                  </li>
                ))}
              </ul>
              <Pager list={messages} />
            </>
          )
        }
      </Show>
      {topic.error instanceof ApiError && topic.error.status === 404 ? (
        <p>
          <a href="/topics">All topics</a>
        </p>
      ) : null}
    </>
  );
}
