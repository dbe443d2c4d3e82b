import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { type ApiClient, createApiClient, type Me } from '../../../../core/api-client.js';
import type { signedInStore } from './session.js';
import { whoAmI } from './signin.js';

/**
 * Who is signed in to an app (the console or the portal), shared by both: the token and
 * `/v1/me` kept in the tab's store, checked again in the background once per token, and
 * signed out — with a notice for the sign-in page — when the API refuses the token or it
 * belongs to the other app.
 */
export function useSignedIn(opts: {
  store: ReturnType<typeof signedInStore>;
  /** False while something else (a portal link's code) is about to sign in. */
  restore: boolean;
  /** Why `who` may not use this app, or null when it may. */
  refuse: (who: Me) => string | null;
  /** The notice when the API refuses the token while the app is in use, and at the check. */
  refused: { inUse: string; atCheck: string };
}) {
  const { store } = opts;
  const [token, setToken] = useState<string | null>(() => (opts.restore ? store.token() : null));
  const [me, setMe] = useState<Me | null>(() => (opts.restore ? store.me() : null));
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
  const signIn = (t: string, who: Me) => {
    checked.current = t;
    store.set(t, who);
    setNotice(null);
    setMe(who);
    setToken(t);
  };
  const api: ApiClient = useMemo(
    () =>
      createApiClient({
        token: () => store.token(),
        onUnauthorized: () => signOut(opts.refused.inUse),
      }),
    [],
  );

  useEffect(() => {
    if (!token || checked.current === token) return;
    checked.current = token;
    whoAmI(token).then(
      (who) => {
        const refusal = opts.refuse(who);
        if (refusal) signOut(refusal);
        else {
          store.setMe(who);
          setMe(who);
        }
      },
      (err: unknown) => {
        if ((err as { status?: number }).status === 401) signOut(opts.refused.atCheck);
        else setBootError(err);
      },
    );
  }, [token]);

  return { token, me, notice, bootError, api, signIn, signOut };
}
