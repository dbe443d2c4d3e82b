import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, createApiClient, type Me } from '../../../../core/api-client.js';
import { ErrorNote, Loading, Time } from '../shared/components.js';
import { type Session, SessionContext } from '../shared/context.js';
import { match, useLinks, useLocation } from '../shared/router.js';
import { signedInStore } from '../shared/session.js';
import { useSignedIn } from '../shared/signed-in.js';
import { SignIn } from '../shared/signin.js';
import { PortalDeliveries, PortalDelivery } from './deliveries.js';
import { PortalEndpoint } from './endpoint.js';
import { Home } from './home.js';

const store = signedInStore('hookline.portal');

const ROUTES: Array<[string, (p: Record<string, string>) => JSX.Element]> = [
  ['/portal', () => <Home />],
  ['/portal/endpoints/:id', (p) => <PortalEndpoint id={p.id as string} />],
  ['/portal/deliveries', () => <PortalDeliveries />],
  ['/portal/deliveries/:id', (p) => <PortalDelivery id={p.id as string} />],
];

function route(path: string) {
  for (const [pattern, view] of ROUTES) {
    const params = match(pattern, path);
    if (params) return view(params);
  }
  return (
    <>
      <h1>Not found</h1>
      <p>
        <a href="/portal">Back to your endpoints</a>
      </p>
    </>
  );
}

/** The code of a portal link (`/portal#code=…`), taken out of the address at once. */
function takeCode(): string | null {
  const code = new URLSearchParams(window.location.hash.slice(1)).get('code');
  if (window.location.hash) {
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  return code;
}

/** The subscriber portal: one subscriber's endpoints, catalogue and deliveries. */
export function Portal() {
  const loc = useLocation();
  useLinks();
  const [code] = useState(takeCode);
  const {
    token,
    me,
    notice,
    bootError,
    api,
    signIn,
    signOut: signedOut,
  } = useSignedIn({
    store,
    restore: !code,
    refuse: (who) => (who.kind === 'subscriber' ? null : 'The portal is for subscribers.'),
    refused: {
      inUse: 'Your session has ended. Open a new portal link, or sign in with your API key.',
      atCheck: 'Your session has ended: sign in again.',
    },
  });
  const [linkError, setLinkError] = useState<unknown>(null);
  const [exchanging, setExchanging] = useState(Boolean(code));

  // A portal link: exchange its single-use code for a session token.
  useEffect(() => {
    if (!code) return;
    createApiClient()
      .portal.exchange(code)
      .then(
        (s) => {
          const who: Me = {
            kind: 'subscriber',
            id: s.subscriber.id,
            name: s.subscriber.name,
            expires_at: s.expires_at,
            portal: true,
          };
          signIn(s.token, who);
        },
        (err: unknown) => {
          store.clear();
          setLinkError(
            err instanceof ApiError && (err.status === 401 || err.status === 404)
              ? new Error(
                  'This portal link has been used already or has expired. Ask for a new link, or sign in with your API key.',
                )
              : err,
          );
        },
      )
      .finally(() => setExchanging(false));
  }, [code]);

  const signOut = async () => {
    // A portal session ends on the server too; an API key stays valid.
    if (me?.portal) await api.portal.signOut().catch(() => undefined);
    signedOut('Signed out.');
  };

  if (exchanging) {
    return (
      <main id="main">
        <Loading what="Opening your portal" />
      </main>
    );
  }
  if (!token) {
    return (
      <SignIn
        title="Webhooks portal"
        label="Subscriber API key"
        hint="The key you were given (hl_sub_…). Kept in this tab only."
        notice={notice}
        accept={(who) =>
          who.kind === 'subscriber' ? null : 'This is not a subscriber key: the console is at /.'
        }
        onSignedIn={signIn}
      >
        <ErrorNote error={linkError} title="Portal link refused" />
      </SignIn>
    );
  }
  if (!me) {
    return (
      <main id="main">
        {bootError ? <ErrorNote error={bootError} /> : <Loading what="Signing in" />}
      </main>
    );
  }
  const session: Session = { api, me, base: '/portal' };
  const onDeliveries = loc.path.startsWith('/portal/deliveries');
  return (
    <SessionContext.Provider value={session}>
      <div>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href="/portal">
            Webhooks
          </a>
          <nav aria-label="Portal">
            <a href="/portal" aria-current={!onDeliveries ? 'page' : undefined}>
              Endpoints
            </a>
            <a href="/portal/deliveries" aria-current={onDeliveries ? 'page' : undefined}>
              Deliveries
            </a>
          </nav>
          <div class="who">
            <span data-testid="subscriber">{me.name}</span>
            {me.expires_at ? (
              <span class="opt">
                (session until <Time iso={me.expires_at} />)
              </span>
            ) : null}
            <button type="button" class="link" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        </header>
        <main id="main" tabIndex={-1}>
          {route(loc.path)}
        </main>
      </div>
    </SessionContext.Provider>
  );
}
