/**
 * The live connection to one debate, as a small state machine fed by socket events:
 *
 *   connecting -> live -> reconnecting(since) -> connecting -> live -> ... -> ended
 *                                     \-> failed (unknown debate, token refused)
 *
 * Every (re)connection asks for the events after the last `seq` the model applied, and
 * the model ignores any `seq` it already has, so a dropped connection never loses or
 * duplicates a message. A frame whose `seq` skips ahead (a gap) is never applied: the
 * connection is dropped and resumed from the last contiguous `seq`.
 */
import { signal } from '@preact/signals';
import type { WireEvent } from '@/api/types';
import type { DebateModel } from './fold';

export type StreamState =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'live' }
  | { kind: 'reconnecting'; since: number; attempt: number; retryAt: number }
  | { kind: 'ended' }
  | { kind: 'failed'; code: number; reason: string };

export interface SocketLike {
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  close(code?: number, reason?: string): void;
  send(data: string): void;
}

export interface StreamOptions {
  /** Opens the socket (tests pass a fake). */
  connect?: (url: string) => SocketLike;
  /** The bearer token for `?token=` (empty for none). */
  token?: () => string;
  /** First retry delay and the cap, in ms; each retry doubles, with jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
  /** Where the page is served from (for the ws:// URL). */
  location?: { protocol: string; host: string };
  onAuthFailure?: (code: number, reason: string) => void;
}

const NORMAL = 1000;
/** Close codes after which reconnecting cannot help. */
const FINAL_CODES: Record<number, string> = {
  4401: 'The server needs a valid token to stream this debate.',
  4403: "This token's role may not watch this debate.",
  4404: 'There is no debate with this id.',
};

export function socketUrl(
  location: { protocol: string; host: string },
  debateId: string,
  since: number,
  token: string,
): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const params = new URLSearchParams({ debate_id: debateId, since: String(since) });
  if (token) params.set('token', token);
  return `${scheme}//${location.host}/ws?${params.toString()}`;
}

export class DebateStream {
  readonly state = signal<StreamState>({ kind: 'connecting', attempt: 0 });
  /** How many times the connection was resumed (shown to the user, asserted by tests). */
  readonly reconnects = signal(0);
  private socket: SocketLike | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private stopped = false;
  private readonly options: Required<Omit<StreamOptions, 'onAuthFailure'>> & Pick<StreamOptions, 'onAuthFailure'>;

  constructor(
    private readonly debateId: string,
    private readonly model: DebateModel,
    options: StreamOptions = {},
  ) {
    this.options = {
      connect: options.connect ?? ((url) => new WebSocket(url)),
      token: options.token ?? (() => ''),
      baseDelayMs: options.baseDelayMs ?? 500,
      maxDelayMs: options.maxDelayMs ?? 10_000,
      random: options.random ?? Math.random,
      location: options.location ?? window.location,
      onAuthFailure: options.onAuthFailure,
    };
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  /** Close for good (the page went away). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close(NORMAL, 'page closed');
    }
  }

  private open(): void {
    if (this.stopped) return;
    this.state.value = { kind: 'connecting', attempt: this.attempt };
    const url = socketUrl(this.options.location, this.debateId, this.model.lastSeq, this.options.token());
    const socket = this.options.connect(url);
    this.socket = socket;
    socket.onmessage = (message) => this.receive(socket, message);
    socket.onclose = (event) => this.closed(socket, event.code, event.reason);
    socket.onerror = () => undefined; // a close follows; that is where we act
  }

  private receive(socket: SocketLike, message: MessageEvent): void {
    if (socket !== this.socket) return;
    let frame: WireEvent;
    try {
      frame = JSON.parse(String(message.data)) as WireEvent;
    } catch {
      return;
    }
    if (frame.type === 'connected') {
      this.attempt = 0;
      if (this.state.peek().kind !== 'ended') this.state.value = { kind: 'live' };
      return;
    }
    if (frame.seq !== null && frame.seq !== undefined && frame.seq > this.model.lastSeq + 1) {
      // A gap: never show events out of order; resume from what we have.
      socket.close(4000, 'gap');
      return;
    }
    if (this.state.peek().kind !== 'live') this.state.value = { kind: 'live' };
    this.model.apply(frame);
    if (frame.type === 'debate_end') {
      this.state.value = { kind: 'ended' };
      this.socket = null;
      socket.onclose = null;
      socket.close(NORMAL, 'debate ended');
    }
  }

  private closed(socket: SocketLike, code: number, reason: string): void {
    if (socket !== this.socket || this.stopped) return;
    this.socket = null;
    const final = FINAL_CODES[code];
    if (final !== undefined) {
      this.state.value = { kind: 'failed', code, reason: reason || final };
      if (code === 4401 || code === 4403) this.options.onAuthFailure?.(code, reason || final);
      return;
    }
    this.retry();
  }

  private retry(): void {
    const exponent = Math.min(this.attempt, 10);
    const ceiling = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** exponent);
    // "Equal jitter": at least half the ceiling, so retries never hammer the server.
    const delay = Math.round(ceiling / 2 + (this.options.random() * ceiling) / 2);
    this.attempt += 1;
    this.reconnects.value += 1;
    this.model.clearStreams();
    this.state.value = {
      kind: 'reconnecting',
      since: this.model.lastSeq,
      attempt: this.attempt,
      retryAt: Date.now() + delay,
    };
    this.timer = setTimeout(() => {
      this.timer = null;
      this.open();
    }, delay);
  }
}
