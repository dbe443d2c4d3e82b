import { useState } from 'preact/hooks';
import { ApiError, type Endpoint, type Topic } from '../../../../core/api-client.js';
import { ErrorNote, Field, Form, Secret } from '../shared/components.js';
import { useSession } from '../shared/context.js';
import { useAction } from '../shared/hooks.js';

export function TopicChecks({ topics, checked }: { topics: Topic[]; checked: string[] }) {
  if (topics.length === 0) return <p class="muted">The catalogue has no topics yet.</p>;
  return (
    <div class="checks">
      {topics.map((t) => (
        <label key={t.name} title={t.description}>
          <input
            type="checkbox"
            name="topics"
            value={t.name}
            defaultChecked={checked.includes(t.name)}
          />
          {t.name}
        </label>
      ))}
    </div>
  );
}

/** The outcome of the verification handshake, said plainly. */
export function Verification({
  endpoint,
  onVerified,
}: {
  endpoint: Endpoint;
  onVerified: (e: Endpoint) => void;
}) {
  const { api } = useSession();
  const verify = useAction(async (v: Record<string, string>) => {
    const e = await api.endpoints.verify(endpoint.id, (v.token ?? '').trim());
    onVerified(e);
    return e;
  });
  if (endpoint.status === 'active')
    return (
      <div class="note note-ok" role="status" data-testid="verification">
        <strong>Active.</strong> Your receiver answered the verification request with its token:
        events are delivered to it from now on.
      </div>
    );
  if (endpoint.status !== 'pending') return null;
  return (
    <div class="note note-wait" role="status" data-testid="verification">
      <p>
        <strong>Pending verification.</strong> hookline sent a signed <code>POST</code> with the
        body <code>{'{"type":"endpoint.verification","data":{"token":"…"}}'}</code> to your URL;
        your receiver answered 2xx but did not send the token back in a JSON body (
        <code>{'{"token":"…"}'}</code>). Nothing is delivered until it is verified: find the token
        in that request (your receiver's logs) and enter it here.
      </p>
      <Form label="Verify the endpoint" onSubmit={(v) => void verify.run(v)}>
        <Field label="Verification token">
          <input name="token" required autoComplete="off" />
        </Field>
        <button type="submit" disabled={verify.running}>
          Verify
        </button>
      </Form>
      <ErrorNote error={verify.error} />
    </div>
  );
}

/** Add an endpoint: URL, topics, description, rate limit; then the handshake's result. */
export function AddEndpoint({ topics, onAdded }: { topics: Topic[]; onAdded: () => void }) {
  const { api, base } = useSession();
  const [added, setAdded] = useState<Endpoint | null>(null);
  const add = useAction(async (v: Record<string, string>, form: HTMLFormElement) => {
    const chosen = (v.topics ?? '').split(',').filter(Boolean);
    if (chosen.length === 0) throw new Error('Choose at least one topic.');
    const rate = v.rate_limit?.trim();
    const e = await api.endpoints.create({
      url: (v.url ?? '').trim(),
      topics: chosen,
      ...(v.description ? { description: v.description } : {}),
      ...(rate ? { rate_limit: Number(rate) } : {}),
    });
    setAdded(e);
    form.reset();
    onAdded();
    return e;
  });
  const refused = add.error instanceof ApiError && add.error.status === 422;
  return (
    <section class="panel" aria-label="Add an endpoint">
      <h2>Add an endpoint</h2>
      <Form label="Add an endpoint" class="form stack" onSubmit={(v, f) => void add.run(v, f)}>
        <Field label="URL" hint="hookline POSTs each event here, signed.">
          <input name="url" type="url" required placeholder="https://example.com/webhooks" />
        </Field>
        <fieldset>
          <legend>Topics</legend>
          <TopicChecks topics={topics} checked={[]} />
        </fieldset>
        <Field label="Description (optional)">
          <input name="description" maxLength={1024} />
        </Field>
        <Field label="Rate limit (optional)" hint="Requests per second at most.">
          <input name="rate_limit" type="number" min={1} max={100000} step={1} />
        </Field>
        <button type="submit" disabled={add.running}>
          {add.running ? 'Verifying your URL…' : 'Add endpoint'}
        </button>
      </Form>
      {refused ? (
        <div class="note note-error" role="alert" data-testid="verification">
          <strong>Refused:</strong> {(add.error as ApiError).message} Nothing was stored.
        </div>
      ) : (
        <ErrorNote error={add.error} />
      )}
      {added ? (
        <div data-testid="added">
          <Verification endpoint={added} onVerified={setAdded} />
          {added.secret ? (
            <Secret
              label="Signing secret (also shown on the endpoint's page)"
              value={added.secret}
            />
          ) : null}
          <p>
            <a href={`${base}/endpoints/${encodeURIComponent(added.id)}`}>Open {added.url}</a>
          </p>
        </div>
      ) : null}
    </section>
  );
}
