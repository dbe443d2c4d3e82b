import type { JSX } from 'preact';
import { useEffect } from 'preact/hooks';
import { ErrorNote, Loading } from '../shared/components.js';
import { type Session, SessionContext } from '../shared/context.js';
import { match, useLinks, useLocation } from '../shared/router.js';
import { signedInStore } from '../shared/session.js';
import { useSignedIn } from '../shared/signed-in.js';
import { SignIn } from '../shared/signin.js';
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
  const { token, me, notice, bootError, api, signIn, signOut } = useSignedIn({
    store,
    restore: true,
    refuse: (who) =>
      who.kind === 'subscriber' ? 'A subscriber key opens the portal, not the console.' : null,
    refused: {
      inUse: 'Your token was refused (revoked, or the registry changed): sign in again.',
      atCheck: 'Your token was refused: sign in again.',
    },
  });

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
        onSignedIn={signIn}
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
