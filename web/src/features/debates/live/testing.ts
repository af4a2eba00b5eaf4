/** Test helpers: events shaped like the server's, and a scriptable fake socket. */
import type { WireEvent } from '@/api/types';
import type { SocketLike } from './stream';

let clock = 0;

export function event(seq: number | null, type: string, data: Record<string, unknown> = {}, extra: Partial<WireEvent> = {}): WireEvent {
  clock += 1;
  return { type, debate_id: 'd1', seq, timestamp: new Date(1_700_000_000_000 + clock).toISOString(), data, ...extra };
}

/** The first events of a three-agent debate: start, round, propose phase, proposals. */
export function opening(): WireEvent[] {
  return [
    event(1, 'debate_start', { task: 'SQLite or PostgreSQL?', mode: 'debate', protocol: { rounds: 2 }, agents: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] }),
    event(2, 'round_start', { round: 1 }, { round: 1 }),
    event(3, 'phase_change', { phase: 'propose', round: 1 }, { round: 1 }),
    event(4, 'propose', { agent: 'a', phase: 'propose', content: 'ANSWER: SQLite', answer: 'SQLite', confidence: 0.8, usage: { input_tokens: 100, output_tokens: 20, cost_usd: 0.001 } }, { round: 1, agent: 'a' }),
    event(5, 'propose', { agent: 'b', phase: 'propose', content: 'ANSWER: PostgreSQL', answer: 'PostgreSQL', usage: { input_tokens: 100, output_tokens: 30, cost_usd: 0.002, estimated: true } }, { round: 1, agent: 'b' }),
  ];
}

export class FakeSocket implements SocketLike {
  static opened: FakeSocket[] = [];
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  closedWith: number | null = null;
  sent: string[] = [];

  constructor(readonly url: string) {
    FakeSocket.opened.push(this);
  }

  get since(): number {
    return Number(new URL(this.url).searchParams.get('since'));
  }

  deliver(...frames: WireEvent[]): void {
    for (const frame of frames) this.onmessage?.({ data: JSON.stringify(frame) } as MessageEvent);
  }

  connected(): void {
    this.deliver(event(null, 'connected', { server_version: 'test' }));
  }

  /** The server (or the network) drops the connection. */
  drop(code = 1006, reason = ''): void {
    this.onclose?.({ code, reason } as CloseEvent);
  }

  close(code?: number): void {
    this.closedWith = code ?? 1000;
    this.onclose?.({ code: code ?? 1000, reason: '' } as CloseEvent);
  }

  send(data: string): void {
    this.sent.push(data);
  }
}
