import { useState } from 'preact/hooks';
import type { PortalLink, Principal } from '../../../../core/api-client.js';
import {
  Confirm,
  CopyButton,
  ErrorNote,
  Field,
  Form,
  PagedTable,
  Secret,
  Time,
} from '../shared/components.js';
import { useSession } from '../shared/context.js';
import { useAction, usePaged } from '../shared/hooks.js';
import { withQuery } from '../shared/router.js';

/** Subscribers (accounts of the portal) or publishers (tokens of services that publish). */
export function PrincipalsPage({ kind }: { kind: 'subscriber' | 'publisher' }) {
  const { api } = useSession();
  const client = kind === 'subscriber' ? api.subscribers : api.publishers;
  const list = usePaged((cursor) => client.list({ cursor }), [kind]);
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [link, setLink] = useState<{ name: string; link: PortalLink } | null>(null);
  const create = useAction(async (v: Record<string, string>, form: HTMLFormElement) => {
    const p =
      kind === 'subscriber'
        ? await api.subscribers.create((v.name ?? '').trim())
        : await api.publishers.create((v.name ?? '').trim());
    const key = 'api_key' in p ? p.api_key : 'token' in p ? p.token : undefined;
    setCreated({ name: p.name, key: String(key ?? '') });
    form.reset();
    list.reload();
    return p;
  });
  const act = useAction(async (what: 'revoke' | 'portal', p: Principal) => {
    if (what === 'revoke') {
      await client.revoke(p.id);
      list.reload();
    } else {
      setLink({ name: p.name, link: await api.subscribers.portalLink(p.id) });
    }
  });
  const title = kind === 'subscriber' ? 'Subscribers' : 'Publishers';
  const keyName = kind === 'subscriber' ? 'API key' : 'token';
  return (
    <>
      <h1>{title}</h1>
      <p class="muted">
        {kind === 'subscriber'
          ? 'A subscriber manages its own endpoints and sees only its own deliveries, in the portal or through the API.'
          : 'A publisher token lets a service create topics and publish; it can read everything.'}
      </p>
      <section class="panel" aria-label={`New ${kind}`}>
        <h2>New {kind}</h2>
        <Form label={`New ${kind}`} onSubmit={(v, f) => void create.run(v, f)}>
          <Field label="Name">
            <input name="name" required maxLength={200} />
          </Field>
          <button type="submit" disabled={create.running}>
            Create {kind}
          </button>
        </Form>
        <ErrorNote error={create.error} />
        {created ? (
          <div class="note note-wait" role="status">
            <p>
              <strong>{created.name}</strong> was created. Its {keyName} is shown this once: only
              its hash is stored.
            </p>
            <Secret label={`${created.name}'s ${keyName}`} value={created.key} />
          </div>
        ) : null}
      </section>
      {link ? (
        <section class="panel note-info" aria-label="Portal link">
          <h2>Portal link for {link.name}</h2>
          <p>
            It works once, until <Time iso={link.link.expires_at} />. Send it to the subscriber, or
            open it here.
          </p>
          <div class="row">
            <input class="mono grow" readOnly value={link.link.url} aria-label="Portal link" />
            <CopyButton text={link.link.url} />
            <a href={link.link.url} target="_blank" rel="noopener noreferrer">
              Open the portal
            </a>
          </div>
        </section>
      ) : null}
      <ErrorNote error={act.error} />
      <PagedTable
        list={list}
        what={`Loading ${title.toLowerCase()}`}
        label={title}
        empty={`No ${kind}s yet.`}
        head={
          <>
            <th>Name</th>
            <th class="opt">Id</th>
            <th class="opt">Created</th>
            <th>State</th>
            <th>Actions</th>
          </>
        }
        row={(p) => (
          <tr key={p.id} data-id={p.id}>
            <td>{p.name}</td>
            <td class="mono opt">{p.id}</td>
            <td class="opt">
              <Time iso={p.created_at} />
            </td>
            <td>
              {p.revoked_at ? (
                <span>
                  revoked <Time iso={p.revoked_at} />
                </span>
              ) : (
                'active'
              )}
            </td>
            <td>
              <div class="row">
                {kind === 'subscriber' && !p.revoked_at ? (
                  <>
                    <button
                      type="button"
                      class="secondary"
                      onClick={() => void act.run('portal', p)}
                    >
                      Portal link
                    </button>
                    <a href={withQuery('/endpoints', { owner_id: p.id })}>Endpoints</a>
                  </>
                ) : null}
                {p.revoked_at ? null : (
                  <Confirm
                    label="Revoke"
                    question={`Revoke ${p.name}'s ${keyName}?`}
                    onConfirm={() => void act.run('revoke', p)}
                  />
                )}
              </div>
            </td>
          </tr>
        )}
      />
    </>
  );
}
