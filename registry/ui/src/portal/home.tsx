import { useState } from 'preact/hooks';
import type { Endpoint, Topic } from '../../../../core/api-client.js';
import { Badge, Empty, ErrorNote, Show } from '../shared/components.js';
import { useSession } from '../shared/context.js';
import { type Async, listAll, useAction, useAsync } from '../shared/hooks.js';
import { AddEndpoint } from './add-endpoint.js';

/** The portal's one page: your endpoints beside the event catalogue. */
export function Home() {
  const { api, me } = useSession();
  const endpoints = useAsync(
    () => listAll((cursor) => api.endpoints.list({ cursor, limit: 200 })),
    [],
  );
  const topics = useAsync(() => listAll((cursor) => api.topics.list({ cursor, limit: 500 })), []);
  const [adding, setAdding] = useState(false);
  return (
    <>
      <h1>Webhooks{me.name ? ` for ${me.name}` : ''}</h1>
      <div class="grid2">
        <section aria-label="Your endpoints">
          <div class="spread">
            <h2>Your endpoints</h2>
            <button type="button" onClick={() => setAdding((a) => !a)} aria-expanded={adding}>
              {adding ? 'Close' : 'Add an endpoint'}
            </button>
          </div>
          {adding ? <AddEndpoint topics={topics.data ?? []} onAdded={endpoints.reload} /> : null}
          <Show state={endpoints} what="Loading your endpoints">
            {(list) =>
              list.length === 0 ? (
                <Empty>
                  No endpoint yet. Add one: a URL of yours that receives the events of the topics
                  you choose.
                </Empty>
              ) : (
                <ul class="endpoints" aria-label="Endpoints">
                  {list.map((e) => (
                    <li key={e.id} class="panel" data-id={e.id}>
                      <div class="spread">
                        <a class="wrap" href={`/portal/endpoints/${encodeURIComponent(e.id)}`}>
                          {e.url}
                        </a>
                        <Badge status={e.status} />
                      </div>
                      <div>
                        {e.topics.map((t) => (
                          <span key={t} class="chip">
                            {t}
                          </span>
                        ))}
                      </div>
                      {e.description ? <p class="muted">{e.description}</p> : null}
                    </li>
                  ))}
                </ul>
              )
            }
          </Show>
        </section>
        <Catalogue topics={topics} endpoints={endpoints.data ?? []} onChange={endpoints.reload} />
      </div>
    </>
  );
}

/** Every topic with its description; subscribing an endpoint takes two clicks. */
function Catalogue({
  topics,
  endpoints,
  onChange,
}: {
  topics: Async<Topic[]>;
  endpoints: Endpoint[];
  onChange: () => void;
}) {
  const { api } = useSession();
  const [open, setOpen] = useState<string | null>(null);
  const subscribe = useAction(async (e: Endpoint, topic: string) => {
    await api.endpoints.update(e.id, { topics: [...e.topics, topic] });
    setOpen(null);
    onChange();
  });
  return (
    <section class="panel" aria-label="Event catalogue">
      <h2>Event catalogue</h2>
      <ErrorNote error={subscribe.error} />
      <Show state={topics} what="Loading the catalogue">
        {(list) =>
          list.length === 0 ? (
            <Empty>No topics are published yet.</Empty>
          ) : (
            <ul class="catalogue">
              {list.map((t) => {
                const subscribed = endpoints.filter((e) => e.topics.includes(t.name));
                const others = endpoints.filter((e) => !e.topics.includes(t.name));
                return (
                  <li key={t.name} class="topic" data-topic={t.name}>
                    <div class="spread">
                      <strong>{t.name}</strong>
                      {others.length > 0 ? (
                        <button
                          type="button"
                          class="secondary"
                          aria-expanded={open === t.name}
                          onClick={() => setOpen(open === t.name ? null : t.name)}
                        >
                          Subscribe…
                        </button>
                      ) : null}
                    </div>
                    <p>{t.description || 'No description.'}</p>
                    {subscribed.length > 0 ? (
                      <small>
                        Delivered to:{' '}
                        {subscribed.map((e) => (
                          <span key={e.id} class="chip">
                            {e.url}
                          </span>
                        ))}
                      </small>
                    ) : null}
                    {open === t.name ? (
                      <fieldset class="menu bare">
                        <legend class="sr-only">Subscribe an endpoint to {t.name}</legend>
                        {others.map((e) => (
                          <button
                            key={e.id}
                            type="button"
                            disabled={subscribe.running}
                            onClick={() => void subscribe.run(e, t.name)}
                          >
                            {e.url}
                          </button>
                        ))}
                      </fieldset>
                    ) : null}
                  </li>
                );
              })}
            </ul>
          )
        }
      </Show>
    </section>
  );
}
