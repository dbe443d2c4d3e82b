import { useState } from 'preact/hooks';
import type { Attempt, Delivery, DeliveryFilter, Job } from '../../../../core/api-client.js';
import { Badge, Dl, Empty, ErrorNote, Json, Pager, Show, Time, PagedTable } from './components.js';
import { useSession } from './context.js';
import { type Paged, useAction, useAsync, useInterval, usePaged } from './hooks.js';

/** One row per delivery; `endpoints` names endpoints by URL where known. */
export function DeliveryTable({
  list,
  endpointHref,
  showEndpoint = true,
  empty = 'No deliveries.',
}: {
  list: Paged<Delivery>;
  endpointHref?: (id: string) => string;
  showEndpoint?: boolean;
  empty?: string;
}) {
  const { base } = useSession();
  return (
    <PagedTable
      list={list}
      what="Loading deliveries"
      label="Deliveries"
      empty={empty}
      head={
        <>
          <th>Delivery</th>
          <th>Status</th>
          <th>Topic</th>
          {showEndpoint ? <th class="opt">Endpoint</th> : null}
          <th>Attempts</th>
          <th class="opt">Last answer</th>
          <th>Created</th>
        </>
      }
      row={(d) => (
        <tr key={d.id} data-id={d.id}>
          <td class="mono id">
            <a href={`${base}/deliveries/${encodeURIComponent(d.id)}`} title={d.id}>
              {d.id}
            </a>
          </td>
          <td>
            <Badge status={d.status} />
          </td>
          <td>{d.topic}</td>
          {showEndpoint ? (
            <td class="mono opt">
              {endpointHref ? (
                <a href={endpointHref(d.endpoint_id)}>{d.endpoint_id}</a>
              ) : (
                d.endpoint_id
              )}
            </td>
          ) : null}
          <td>{d.attempts}</td>
          <td class="opt">{lastAnswer(d)}</td>
          <td>
            <Time iso={d.created_at} />
          </td>
        </tr>
      )}
    />
  );
}

function lastAnswer(d: Pick<Delivery, 'last_status_code' | 'last_error'>): string {
  if (d.last_status_code) return `HTTP ${d.last_status_code}`;
  return d.last_error ?? '–';
}

function attemptResult(a: Attempt): string {
  if (a.status_code) return `HTTP ${a.status_code}`;
  return 'no answer';
}

/** A delivery with every attempt, its next attempt time, and a retry when it has failed. */
export function DeliveryDetail({
  id,
  endpointHref,
  messageHref,
}: {
  id: string;
  endpointHref?: (id: string) => string;
  messageHref?: (id: string) => string;
}) {
  const { api, me } = useSession();
  // Publishers read deliveries; retrying is for the admin and the delivery's subscriber.
  const mayRetry = me.kind !== 'publisher';
  const delivery = useAsync(() => api.deliveries.get(id), [id]);
  const attempts = usePaged((cursor) => api.deliveries.attempts(id, { cursor }), [id]);
  const retry = useAction(async () => {
    const d = await api.deliveries.retry(id);
    delivery.reload();
    attempts.reload();
    return d;
  });
  const pending = delivery.data?.status === 'pending';
  // While it waits for an attempt, the page follows it.
  useInterval(
    () => {
      delivery.reload();
      attempts.reload();
    },
    1000,
    pending,
  );
  return (
    <>
      <h1>
        Delivery <span class="mono">{id}</span>
      </h1>
      <Show state={delivery} what="Loading the delivery">
        {(d) => (
          <section class="panel" aria-label="Delivery">
            <div class="spread">
              <Badge status={d.status} />
              {mayRetry ? (
                <button
                  type="button"
                  onClick={() => void retry.run()}
                  disabled={d.status !== 'failed' || retry.running}
                  title={d.status === 'failed' ? '' : 'Only a failed delivery can be retried'}
                >
                  {retry.running ? 'Retrying…' : 'Retry now'}
                </button>
              ) : null}
            </div>
            {retry.result ? (
              <div class="note note-ok" role="status">
                Retry queued: one more attempt is being made now.
              </div>
            ) : null}
            <ErrorNote error={retry.error} title="Retry refused" />
            <Dl
              rows={[
                ['Topic', d.topic],
                [
                  'Message',
                  messageHref ? (
                    <a class="mono" href={messageHref(d.message_id)}>
                      {d.message_id}
                    </a>
                  ) : (
                    <span class="mono">{d.message_id}</span>
                  ),
                ],
                [
                  'Endpoint',
                  endpointHref ? (
                    <a class="mono" href={endpointHref(d.endpoint_id)}>
                      {d.endpoint_id}
                    </a>
                  ) : (
                    <span class="mono">{d.endpoint_id}</span>
                  ),
                ],
                ['Attempts', String(d.attempts)],
                [
                  'Next attempt',
                  d.status === 'pending' ? <Time iso={d.next_attempt_at} /> : 'none: it has ended',
                ],
                ['Last answer', lastAnswer(d)],
                ['Created', <Time key="c" iso={d.created_at} />],
                ['Updated', <Time key="u" iso={d.updated_at} />],
              ]}
            />
          </section>
        )}
      </Show>
      <h2>Attempts</h2>
      <Show state={attempts} what="Loading attempts">
        {(page) =>
          page.data.length === 0 ? (
            <Empty>No attempt yet{pending ? ': the first is on its way.' : '.'}</Empty>
          ) : (
            <>
              <ol class="attempts" aria-label="Attempts">
                {page.data.map((a) => (
                  <li key={a.id} class="panel">
                    <div class="spread">
                      <strong>
                        <Badge
                          status={a.status_code && a.status_code < 300 ? 'succeeded' : 'failed'}
                        />{' '}
                        {attemptResult(a)}
                      </strong>
                      <span>
                        {a.duration_ms} ms · <Time iso={a.created_at} />
                      </span>
                    </div>
                    {a.error ? <p class="note note-error">{a.error}</p> : null}
                    {a.response_body ? (
                      <details>
                        <summary>Response body ({a.response_body.length} characters)</summary>
                        <Json value={a.response_body} />
                      </details>
                    ) : (
                      <p class="muted">Empty response body.</p>
                    )}
                  </li>
                ))}
              </ol>
              <Pager list={attempts} />
            </>
          )
        }
      </Show>
    </>
  );
}

/** "Retry all failed" for the deliveries matching a filter: a job, and its progress. */
export function RetryAll({ filter, onEnd }: { filter: DeliveryFilter; onEnd: () => void }) {
  const { api } = useSession();
  const [jobId, setJobId] = useState<string | null>(null);
  const start = useAction(async () => {
    const { status: _status, ...rest } = filter;
    const job = await api.deliveries.retryAll(rest);
    setJobId(job.id);
    return job;
  });
  return (
    <section class="panel" aria-label="Retry failed deliveries">
      <div class="spread">
        <p>
          Retry every <strong>failed</strong> delivery that matches these filters (one more attempt
          each).
        </p>
        <button
          type="button"
          class="secondary"
          onClick={() => void start.run()}
          disabled={start.running || Boolean(jobId)}
        >
          Retry all failed
        </button>
      </div>
      <ErrorNote error={start.error} />
      {jobId ? (
        <JobProgress
          id={jobId}
          initial={start.result}
          onEnd={onEnd}
          onClose={() => setJobId(null)}
        />
      ) : null}
    </section>
  );
}

/** A retry job's progress, polled until it has ended. */
function JobProgress({
  id,
  initial,
  onEnd,
  onClose,
}: {
  id: string;
  initial: Job | undefined;
  onEnd: () => void;
  onClose: () => void;
}) {
  const { api } = useSession();
  const job = useAsync(async () => {
    const j = await api.jobs.get(id);
    if (j.status !== 'running') onEnd();
    return j;
  }, [id]);
  const j = job.data ?? initial;
  useInterval(job.reload, 500, !j || j.status === 'running');
  if (!j) return null;
  return (
    <div class="job" data-testid="job">
      <div class="spread">
        <span>
          Retry job <span class="mono">{j.id}</span> <Badge status={j.status} />
        </span>
        <span>
          {j.done} of {j.total} retried{j.errors ? `, ${j.errors} refused` : ''}
        </span>
      </div>
      <progress max={Math.max(1, j.total)} value={j.done} aria-label="Retry progress" />
      <ErrorNote error={job.error} />
      {j.status !== 'running' ? (
        <button type="button" class="link" onClick={onClose}>
          Close
        </button>
      ) : null}
    </div>
  );
}
