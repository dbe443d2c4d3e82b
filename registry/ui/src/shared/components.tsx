import type { ComponentChildren, TargetedSubmitEvent } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from '../../../../core/api-client.js';
import { localTime } from './format.js';
import type { Async, Paged } from './hooks.js';

/** A time in the viewer's zone, the ISO value on hover. */
export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span class="muted">–</span>;
  return (
    <time dateTime={iso} title={iso}>
      {localTime(iso)}
    </time>
  );
}

/**
 * An endpoint's circuit breaker: closed, or open (deliveries held back after consecutive
 * failures) since a time, with the next probe; as the API reports it across dispatchers.
 */
export function Circuit({
  circuit,
}: {
  circuit:
    | { state: 'closed' }
    | { state: 'open'; since: string; next_probe_at: string; dispatchers: number };
}) {
  if (circuit.state === 'closed') return <span>closed</span>;
  return (
    <span class="circuit-open">
      open since <Time iso={circuit.since} />, next probe <Time iso={circuit.next_probe_at} />
    </span>
  );
}

export function Badge({ status }: { status: string }) {
  return <span class={`badge badge-${status}`}>{status}</span>;
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError) return `The registry could not be reached (${error.message}).`;
  return error instanceof Error ? error.message : String(error);
}

/** An API error shows its `message` (and its code, for a search in docs/errors.md). */
export function ErrorNote({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  return (
    <div class="note note-error" role="alert">
      {title ? <strong>{title}: </strong> : null}
      {errorText(error)}
      {error instanceof ApiError ? <span class="code"> ({error.code})</span> : null}
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p class="loading" role="status">
      {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/** Loading, error, then the data: every list and detail goes through the same three states. */
export function Show<T>({
  state,
  children,
  what,
}: {
  state: Async<T>;
  children: (data: T) => ComponentChildren;
  what?: string;
}) {
  if (state.data === undefined) {
    if (state.error) return <ErrorNote error={state.error} />;
    return <Loading what={what} />;
  }
  return (
    <>
      {state.error ? <ErrorNote error={state.error} /> : null}
      {children(state.data)}
    </>
  );
}

/**
 * A paged list as a table, in the states every list has: loading, error, empty (`empty`
 * says so), or its rows (`row` renders one `<tr>`) with the pager under them.
 */
export function PagedTable<T>({
  list,
  what,
  label,
  empty,
  head,
  row,
}: {
  list: Paged<T>;
  what: string;
  label: string;
  empty: ComponentChildren;
  /** The header row's cells. */
  head: ComponentChildren;
  row: (item: T) => ComponentChildren;
}) {
  return (
    <Show state={list} what={what}>
      {(page) =>
        page.data.length === 0 ? (
          <Empty>{empty}</Empty>
        ) : (
          <>
            <div class="table-wrap">
              <table aria-label={label}>
                <thead>
                  <tr>{head}</tr>
                </thead>
                <tbody>{page.data.map(row)}</tbody>
              </table>
            </div>
            <Pager list={list} />
          </>
        )
      }
    </Show>
  );
}

export function Pager<T>({ list }: { list: Paged<T> }) {
  const more = Boolean(list.data?.next_cursor);
  if (list.page === 1 && !more) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" onClick={list.previous} disabled={list.page === 1 || list.loading}>
        ← Newer
      </button>
      <span>Page {list.page}</span>
      <button type="button" onClick={list.next} disabled={!more || list.loading}>
        Older →
      </button>
    </nav>
  );
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState<string | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('Copied');
    } catch {
      setDone('Select the text and copy it');
    }
    window.setTimeout(() => setDone(null), 2000);
  };
  return (
    <button type="button" class="secondary" onClick={copy}>
      {done ?? label}
      <span class="sr-only" aria-live="polite">
        {done ?? ''}
      </span>
    </button>
  );
}

/** A secret or key shown once, with a copy button. */
export function Secret({ value, label }: { value: string; label: string }) {
  return (
    <div class="secret">
      <label>
        {label}
        <input readOnly value={value} onFocus={(e) => e.currentTarget.select()} />
      </label>
      <CopyButton text={value} />
    </div>
  );
}

export function Field({
  label,
  hint,
  children,
}: {
  label: string;
  hint?: string;
  children: ComponentChildren;
}) {
  return (
    // biome-ignore lint/a11y/noLabelWithoutControl: the control is among the children
    <label class="field">
      <span>{label}</span>
      {children}
      {hint ? <small>{hint}</small> : null}
    </label>
  );
}

/** A form that calls `onSubmit` with its values and shows the error of the last try. */
export function Form({
  onSubmit,
  children,
  label,
  class: cls,
}: {
  onSubmit: (values: Record<string, string>, form: HTMLFormElement) => void | Promise<void>;
  children: ComponentChildren;
  label: string;
  class?: string;
}) {
  const submit = (e: TargetedSubmitEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const values: Record<string, string> = {};
    for (const [k, v] of new FormData(form).entries()) {
      if (typeof v === 'string') values[k] = values[k] === undefined ? v : `${values[k]},${v}`;
    }
    void onSubmit(values, form);
  };
  return (
    <form class={cls ?? 'form'} onSubmit={submit} aria-label={label}>
      {children}
    </form>
  );
}

export function Dl({ rows }: { rows: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="props">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Json({ value }: { value: string }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling box must be reachable by keyboard
    <pre class="json" tabIndex={0}>
      <code>{value}</code>
    </pre>
  );
}

/** A destructive action in two steps, without a blocking dialog. */
export function Confirm({
  label,
  question,
  onConfirm,
  disabled,
}: {
  label: string;
  question: string;
  onConfirm: () => void;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button type="button" class="danger" disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  return (
    <fieldset class="confirm bare">
      <legend class="sr-only">{question}</legend>
      <span aria-hidden="true">{question}</span>
      <button
        type="button"
        class="danger"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        Yes, {label.toLowerCase()}
      </button>
      <button type="button" class="secondary" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </fieldset>
  );
}
