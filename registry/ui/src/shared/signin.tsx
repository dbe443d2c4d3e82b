import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, createApiClient, type Me } from '../../../../core/api-client.js';
import { ErrorNote, Field, Form } from './components.js';

/** Who a token belongs to (`GET /v1/me`). */
export function whoAmI(token: string): Promise<Me> {
  return createApiClient({ token }).me();
}

/** The sign-in form: checks the token against the API before keeping it. */
export function SignIn({
  title,
  label,
  hint,
  notice,
  accept,
  onSignedIn,
  children,
}: {
  title: string;
  label: string;
  hint: string;
  notice?: string | null;
  /** Refuses a principal this app is not for, with the reason shown. */
  accept: (me: Me) => string | null;
  onSignedIn: (token: string, me: Me) => void;
  children?: ComponentChildren;
}) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async ({ token }: Record<string, string>) => {
    const t = (token ?? '').trim();
    if (!t) return setError(new Error(`Enter ${label.toLowerCase()}.`));
    setBusy(true);
    setError(null);
    try {
      const me = await whoAmI(t);
      const refusal = accept(me);
      if (refusal) throw new Error(refusal);
      onSignedIn(t, me);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? new Error('This token was refused: check it and try again.')
          : err,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <div class="panel">
        <h1>{title}</h1>
        {notice ? (
          <div class="note note-info" role="status">
            {notice}
          </div>
        ) : null}
        <Form onSubmit={submit} label="Sign in" class="form stack">
          <Field label={label} hint={hint}>
            <input
              name="token"
              type="password"
              autoComplete="off"
              spellcheck={false}
              required
              // biome-ignore lint/a11y/noAutofocus: the only field of the page
              autoFocus
            />
          </Field>
          <button type="submit" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </Form>
        <ErrorNote error={error} />
        {children}
      </div>
    </main>
  );
}
