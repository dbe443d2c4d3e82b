import type { Me } from '../../../../core/api-client.js';

/**
 * The signed-in token, per tab: sessionStorage only (never localStorage, a cookie, a URL or
 * a log), so it goes when the tab closes and is never sent anywhere but the API.
 */
export function tokenStore(key: string) {
  return {
    get(): string | null {
      try {
        return window.sessionStorage.getItem(key);
      } catch {
        return null;
      }
    },
    set(token: string): void {
      window.sessionStorage.setItem(key, token);
    },
    clear(): void {
      window.sessionStorage.removeItem(key);
    },
  };
}
export type TokenStore = ReturnType<typeof tokenStore>;

/**
 * The token and who it is (`GET /v1/me`), kept together so that a reload shows the page at
 * once; the app asks /v1/me again in the background, and a refused token signs out.
 */
export function signedInStore(prefix: string) {
  const token = tokenStore(`${prefix}.token`);
  const me = tokenStore(`${prefix}.me`);
  return {
    token: () => token.get(),
    me(): Me | null {
      try {
        const v = me.get();
        return v && token.get() ? (JSON.parse(v) as Me) : null;
      } catch {
        return null;
      }
    },
    set(t: string, who: Me): void {
      token.set(t);
      me.set(JSON.stringify(who));
    },
    setMe(who: Me): void {
      me.set(JSON.stringify(who));
    },
    clear(): void {
      token.clear();
      me.clear();
    },
  };
}
