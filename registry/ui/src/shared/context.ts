import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { ApiClient, Me } from '../../../../core/api-client.js';

export interface Session {
  api: ApiClient;
  me: Me;
  /** Where this app's routes start: '' for the console, '/portal' for the portal. */
  base: string;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in app');
  return s;
}
