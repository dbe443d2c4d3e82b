import { useState } from 'preact/hooks';
import type { DeliveryFilter, DeliveryStatus, Job } from '../../../../core/api-client.js';
import { DeliveryDetail, DeliveryTable } from '../shared/deliveries.js';
import { Badge, ErrorNote, Field, Form } from '../shared/components.js';
import { useSession } from '../shared/context.js';
import { fromLocalInput } from '../shared/format.js';
import { useAction, useAsync, useInterval, usePaged } from '../shared/hooks.js';
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
  const [jobId, setJobId] = useState<string | null>(null);
  const start = useAction(async () => {
    const { status: _status, ...rest } = filter;
    const job = await api.deliveries.retryAll(rest);
    setJobId(job.id);
    return job;
  });
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
      {me.kind === 'admin' ? (
        <section class="panel" aria-label="Retry failed deliveries">
          <div class="spread">
            <p>
              Retry every <strong>failed</strong> delivery that matches these filters (one more
              attempt each).
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
              onEnd={() => list.reload()}
              onClose={() => setJobId(null)}
            />
          ) : null}
        </section>
      ) : null}
      <DeliveryTable list={list} endpointHref={endpointHref} empty="No delivery matches." />
    </>
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

export function DeliveryPage({ id }: { id: string }) {
  return <DeliveryDetail id={id} endpointHref={endpointHref} messageHref={messageHref} />;
}
