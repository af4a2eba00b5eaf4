/**
 * One polite ARIA live region for the whole app: features call `announce()` with a short
 * sentence (a finished answer, a phase, the verdict); screen readers read it when idle.
 * Never per token: a stream of deltas would drown every other announcement.
 */
import { signal } from '@preact/signals';

const message = signal('');
let pending: string[] = [];
let timer: ReturnType<typeof setTimeout> | null = null;

export function announce(text: string): void {
  pending.push(text);
  if (timer !== null) return;
  // Coalesce bursts (a replay of a finished debate) into one announcement.
  timer = setTimeout(() => {
    timer = null;
    const texts = pending;
    pending = [];
    message.value = texts.length > 3 ? `${texts.length} updates; latest: ${texts[texts.length - 1]}` : texts.join('. ');
  }, 400);
}

export function LiveRegion() {
  return (
    <div class="sr-only" aria-live="polite" aria-atomic="true" data-testid="live-region">
      {message}
    </div>
  );
}
