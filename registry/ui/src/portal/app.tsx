import type { JSX } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, createApiClient, type Me } from '../../../../core/api-client.js';
import { ErrorNote, Loading, Time } from '../shared/components.js';
import { type Session, SessionContext } from '../shared/context.js';
import { match, useLinks, useLocation } from '../shared/router.js';
import { signedInStore } from '../shared/session.js';
import { SignIn, whoAmI } from '../shared/signin.js';
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
  const [token, setToken] = useState<string | null>(() => (code ? null : store.token()));
  const [me, setMe] = useState<Me | null>(() => (code ? null : store.me()));
  // The token whose /v1/me was asked in this page's life.
  const checked = useRef<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [linkError, setLinkError] = useState<unknown>(null);
  const [exchanging, setExchanging] = useState(Boolean(code));
  const [bootError, setBootError] = useState<unknown>(null);

  const signedOut = (why: string | null) => {
    store.clear();
    setToken(null);
    setMe(null);
    setNotice(why);
  };
  const api = useMemo(
    () =>
      createApiClient({
        token: () => store.token(),
        onUnauthorized: () =>
          signedOut(
            'Your session has ended. Open a new portal link, or sign in with your API key.',
          ),
      }),
    [],
  );

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
          checked.current = s.token;
          store.set(s.token, who);
          setMe(who);
          setToken(s.token);
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

  useEffect(() => {
    if (!token || checked.current === token) return;
    checked.current = token;
    whoAmI(token).then(
      (who) => {
        if (who.kind !== 'subscriber') signedOut('The portal is for subscribers.');
        else {
          store.setMe(who);
          setMe(who);
        }
      },
      (err: unknown) => {
        if (err instanceof ApiError && err.status === 401)
          signedOut('Your session has ended: sign in again.');
        else setBootError(err);
      },
    );
  }, [token]);

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
        onSignedIn={(t, who) => {
          checked.current = t;
          store.set(t, who);
          setNotice(null);
          setMe(who);
          setToken(t);
        }}
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
