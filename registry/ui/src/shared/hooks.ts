import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { List } from '../../../../core/api-client.js';

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
}

/** Runs `load` when `deps` change; keeps the last data while reloading, so nothing flickers. */
export function useAsync<T>(load: () => Promise<T>, deps: readonly unknown[]): Async<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: undefined }));
    load().then(
      (data) => live && setState({ data, error: undefined, loading: false }),
      (error: unknown) => live && setState((s) => ({ ...s, error, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { ...state, reload };
}

export interface Paged<T> extends Async<List<T>> {
  page: number;
  next(): void;
  previous(): void;
}

/**
 * A list paged with the API's cursors: the cursors of the pages seen so far are kept, so
 * "previous" goes back without the API knowing anything but `next_cursor`.
 */
export function usePaged<T>(
  load: (cursor: string | null) => Promise<List<T>>,
  deps: readonly unknown[],
): Paged<T> {
  const key = JSON.stringify(deps);
  // The cursors belong to one set of filters: new filters start again at the first page.
  const [seen, setSeen] = useState<{ key: string; cursors: Array<string | null> }>({
    key,
    cursors: [null],
  });
  const cursors = seen.key === key ? seen.cursors : [null];
  const cursor = cursors[cursors.length - 1] ?? null;
  const state = useAsync(() => load(cursor), [key, cursor]);
  return {
    ...state,
    page: cursors.length,
    next() {
      const c = state.data?.next_cursor;
      if (c) setSeen({ key, cursors: [...cursors, c] });
    },
    previous() {
      if (cursors.length > 1) setSeen({ key, cursors: cursors.slice(0, -1) });
    },
  };
}

/** Calls `fn` every `ms` while `active`; stops when the component goes. */
export function useInterval(fn: () => void, ms: number, active: boolean): void {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (!active) return;
    const t = window.setInterval(() => saved.current(), ms);
    return () => window.clearInterval(t);
  }, [ms, active]);
}

/** An action's state: running, its error, and what it answered. */
export function useAction<A extends unknown[], R>(fn: (...args: A) => Promise<R>) {
  const [state, setState] = useState<{ running: boolean; error: unknown; result: R | undefined }>({
    running: false,
    error: undefined,
    result: undefined,
  });
  const run = async (...args: A): Promise<R | undefined> => {
    setState({ running: true, error: undefined, result: undefined });
    try {
      const result = await fn(...args);
      setState({ running: false, error: undefined, result });
      return result;
    } catch (error) {
      setState({ running: false, error, result: undefined });
      return undefined;
    }
  };
  const reset = () => setState({ running: false, error: undefined, result: undefined });
  return { ...state, run, reset };
}

/** Every item of a list, page after page (for the catalogue and pickers: small lists). */
export async function listAll<T>(
  load: (cursor: string | null) => Promise<List<T>>,
  maxPages = 10,
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < maxPages; i++) {
    const page: List<T> = await load(cursor);
    out.push(...page.data);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return out;
}
