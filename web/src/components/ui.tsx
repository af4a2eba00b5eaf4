/** Shared UI primitives: small, accessible, theme-aware through CSS variables. */
import type { ComponentChildren, JSX } from 'preact';
import { describeError } from '@/api/client';

type ButtonProps = JSX.HTMLAttributes<HTMLButtonElement> & {
  variant?: 'primary' | 'secondary' | 'danger' | 'ghost';
  type?: 'button' | 'submit' | 'reset';
  disabled?: boolean;
};

export function Button({ variant = 'secondary', type = 'button', class: className, ...rest }: ButtonProps) {
  return <button type={type} class={`btn btn-${variant}${className ? ` ${className}` : ''}`} {...rest} />;
}

export function Badge({ tone = 'neutral', children, title }: { tone?: Tone; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge badge-${tone}`} title={title}>
      {children}
    </span>
  );
}

export type Tone = 'neutral' | 'good' | 'warn' | 'bad' | 'info';

export function statusTone(status: string): Tone {
  switch (status) {
    case 'completed':
    case 'healthy':
    case 'ready':
    case 'closed':
      return 'good';
    case 'running':
    case 'queued':
      return 'info';
    case 'degraded':
    case 'half_open':
    case 'cancelled':
      return 'warn';
    case 'failed':
    case 'unhealthy':
    case 'open':
    case 'unavailable':
      return 'bad';
    default:
      return 'neutral';
  }
}

export function Spinner({ label = 'Loading' }: { label?: string }) {
  return (
    <span class="spinner" role="status">
      <span class="spinner-dot" aria-hidden="true" />
      <span class="sr-only">{label}</span>
    </span>
  );
}

export function ErrorNote({ error, title }: { error: unknown; title?: string }) {
  return (
    <div class="note note-bad" role="alert">
      {title ? <strong>{title}: </strong> : null}
      {describeError(error)}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function Card({ title, children, actions, class: className, id }: {
  title?: ComponentChildren;
  children: ComponentChildren;
  actions?: ComponentChildren;
  class?: string;
  id?: string;
}) {
  const headingId = id ? `${id}-title` : undefined;
  return (
    <section class={`card${className ? ` ${className}` : ''}`} id={id} aria-labelledby={title ? headingId : undefined}>
      {title || actions ? (
        <header class="card-head">
          {title ? <h2 id={headingId}>{title}</h2> : <span />}
          {actions ? <div class="card-actions">{actions}</div> : null}
        </header>
      ) : null}
      {children}
    </section>
  );
}

export function Meter({ value, label }: { value: number; label: string }) {
  const clamped = Math.max(0, Math.min(1, value));
  return (
    <span class="meter" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(clamped * 100)} aria-label={label}>
      <span class="meter-fill" style={{ width: `${clamped * 100}%` }} />
    </span>
  );
}

export function Pager({ offset, limit, total, onChange }: { offset: number; limit: number; total: number; onChange: (offset: number) => void }) {
  const page = Math.floor(offset / limit) + 1;
  const pages = Math.max(1, Math.ceil(total / limit));
  return (
    <nav class="pager" aria-label="Pages">
      <Button onClick={() => onChange(Math.max(0, offset - limit))} disabled={offset === 0}>
        ← Newer
      </Button>
      <span aria-live="polite">
        Page {page} of {pages}
      </span>
      <Button onClick={() => onChange(offset + limit)} disabled={offset + limit >= total}>
        Older →
      </Button>
    </nav>
  );
}
