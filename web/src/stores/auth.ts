/**
 * The API token: entered once in the token dialog and kept in sessionStorage (it goes
 * when the tab closes). A 401/403 from any call opens the dialog with the server's reason.
 */
import { signal } from '@preact/signals';

const KEY = 'aragora.token';

function load(): string {
  try {
    return sessionStorage.getItem(KEY) ?? '';
  } catch {
    return '';
  }
}

export type AuthReason = 'unauthorized' | 'forbidden' | 'required';

export interface AuthDemand {
  reason: AuthReason;
  message: string;
}

const token = signal(load());
const demandSignal = signal<AuthDemand | null>(null);

export const auth = {
  token,
  /** Set when a call needs a (better) token; the token dialog shows while it is set. */
  demanded: demandSignal,
  set(value: string): void {
    token.value = value.trim();
    try {
      if (token.value) sessionStorage.setItem(KEY, token.value);
      else sessionStorage.removeItem(KEY);
    } catch {
      // Storage refused (private mode): the token lives for this page only.
    }
  },
  clear(): void {
    auth.set('');
  },
  demand(reason: AuthReason, message: string): void {
    demandSignal.value = { reason, message };
  },
  dismiss(): void {
    demandSignal.value = null;
  },
};
