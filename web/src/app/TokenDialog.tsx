/** Asks for an API token when a call was refused (401/403) or a page needs one. The
 * token is checked against the server before it is kept. */
import { useQueryClient } from '@tanstack/preact-query';
import { useState } from 'preact/hooks';
import { api, ApiError, describeError } from '@/api/client';
import { Button } from '@/components/ui';
import { Dialog } from '@/components/Dialog';
import { auth } from '@/stores/auth';

const TITLES = {
  unauthorized: 'A valid token is needed',
  forbidden: "This token's role may not do that",
  required: 'Enter an API token',
};

export function TokenDialog() {
  const demand = auth.demanded.value;
  const client = useQueryClient();
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);
  const close = () => {
    setValue('');
    setError(null);
    auth.dismiss();
  };
  const submit = async (event: Event) => {
    event.preventDefault();
    const candidate = value.trim();
    if (!candidate) return;
    setChecking(true);
    setError(null);
    const previous = auth.token.peek();
    auth.set(candidate);
    try {
      // Any authenticated read tells a wrong token (401) from a right one.
      await api('/api/v1/debates', { query: { limit: 1 }, quietAuth: true });
      close();
      await client.invalidateQueries();
    } catch (e) {
      auth.set(previous);
      setError(e instanceof ApiError && e.status === 401 ? 'The server does not know this token.' : describeError(e));
    } finally {
      setChecking(false);
    }
  };
  return (
    <Dialog open={demand !== null} title={demand ? TITLES[demand.reason] : ''} onClose={close}>
      <form onSubmit={(e) => void submit(e)} class="form">
        {demand ? <p class="muted">{demand.message}</p> : null}
        <label class="field">
          <span>Token</span>
          <input type="password" autoComplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} autoFocus name="token" data-testid="token-input" />
        </label>
        <p class="muted small">Kept in this tab only (sessionStorage) and sent as a bearer token. Create one with <code>aragora tokens create</code> or find the admin token in the data directory.</p>
        {error ? (
          <p class="note note-bad" role="alert" data-testid="token-error">
            {error}
          </p>
        ) : null}
        <div class="row">
          <Button type="submit" variant="primary" disabled={checking || !value.trim()}>
            {checking ? 'Checking…' : 'Use token'}
          </Button>
          <Button onClick={close}>Cancel</Button>
        </div>
      </form>
    </Dialog>
  );
}
