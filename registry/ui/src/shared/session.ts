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
