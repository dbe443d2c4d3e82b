import type { JSX } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { createApiClient, type Me } from '../../../../core/api-client.js';
import { ErrorNote, Loading } from '../shared/components.js';
import { type Session, SessionContext } from '../shared/context.js';
import { match, useLinks, useLocation } from '../shared/router.js';
import { signedInStore } from '../shared/session.js';
import { SignIn, whoAmI } from '../shared/signin.js';
import { DeliveriesPage, DeliveryPage } from './deliveries.js';
import { EndpointPage, EndpointsPage } from './endpoints.js';
import { MessagePage, MessagesPage } from './messages.js';
import { Overview } from './overview.js';
import { PrincipalsPage } from './principals.js';
import { TopicPage, TopicsPage } from './topics.js';

const store = signedInStore('hookline.console');

const NAV: Array<[string, string]> = [
  ['/', 'Overview'],
  ['/topics', 'Topics'],
  ['/endpoints', 'Endpoints'],
  ['/messages', 'Messages'],
  ['/deliveries', 'Deliveries'],
  ['/subscribers', 'Subscribers'],
  ['/publishers', 'Publishers'],
];

const ROUTES: Array<[string, (p: Record<string, string>) => JSX.Element]> = [
  ['/', () => <Overview />],
  ['/topics', () => <TopicsPage />],
  ['/topics/:name', (p) => <TopicPage name={p.name as string} />],
  ['/endpoints', () => <EndpointsPage />],
  ['/endpoints/:id', (p) => <EndpointPage id={p.id as string} />],
  ['/messages', () => <MessagesPage />],
  ['/messages/:id', (p) => <MessagePage id={p.id as string} />],
  ['/deliveries', () => <DeliveriesPage />],
  ['/deliveries/:id', (p) => <DeliveryPage id={p.id as string} />],
  ['/subscribers', () => <PrincipalsPage kind="subscriber" />],
  ['/publishers', () => <PrincipalsPage kind="publisher" />],
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
        Nothing lives at <code>{path}</code>. <a href="/">Back to the overview</a>.
      </p>
    </>
  );
}

/** The console: the admin and publishers, signed in with their token. */
export function App() {
  const loc = useLocation();
  useLinks();
  const [token, setToken] = useState<string | null>(store.token);
  const [me, setMe] = useState<Me | null>(store.me);
  // The token whose /v1/me was asked in this page's life.
  const checked = useRef<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [bootError, setBootError] = useState<unknown>(null);

  const signOut = (why: string | null) => {
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
          signOut('Your token was refused (revoked, or the registry changed): sign in again.'),
      }),
    [],
  );

  useEffect(() => {
    if (!token || checked.current === token) return;
    checked.current = token;
    whoAmI(token).then(
      (who) => {
        if (who.kind === 'subscriber')
          signOut('A subscriber key opens the portal, not the console.');
        else {
          store.setMe(who);
          setMe(who);
        }
      },
      (err: unknown) => {
        if ((err as { status?: number }).status === 401)
          signOut('Your token was refused: sign in again.');
        else setBootError(err);
      },
    );
  }, [token]);

  useEffect(() => {
    const title = NAV.find(([p]) => p !== '/' && loc.path.startsWith(p))?.[1] ?? 'Overview';
    document.title = `${title} · hookline console`;
  }, [loc.path]);

  if (!token) {
    return (
      <SignIn
        title="hookline console"
        label="Admin or publisher token"
        hint="Kept in this tab only (sessionStorage); closing the tab signs you out."
        notice={notice}
        accept={(who) =>
          who.kind === 'subscriber'
            ? 'This is a subscriber API key: subscribers sign in to the portal.'
            : null
        }
        onSignedIn={(t, who) => {
          checked.current = t;
          store.set(t, who);
          setNotice(null);
          setMe(who);
          setToken(t);
        }}
      >
        <p class="muted">
          Subscribers: <a href="/portal">open the portal</a>.
        </p>
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
  const session: Session = { api, me, base: '' };
  const active = (p: string) => (p === '/' ? loc.path === '/' : loc.path.startsWith(p));
  return (
    <SessionContext.Provider value={session}>
      <div>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href="/">
            hookline
          </a>
          <nav aria-label="Console">
            {NAV.filter(([p]) => p !== '/publishers' || me.kind === 'admin').map(([p, label]) => (
              <a key={p} href={p} aria-current={active(p) ? 'page' : undefined}>
                {label}
              </a>
            ))}
          </nav>
          <div class="who">
            <span>{me.kind === 'admin' ? 'admin' : `${me.kind} · ${me.name}`}</span>
            <button type="button" class="link" onClick={() => signOut('Signed out.')}>
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
