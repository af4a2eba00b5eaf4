import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DebateModel } from './fold';
import { DebateStream, socketUrl } from './stream';
import { FakeSocket, event, opening } from './testing';

const location = { protocol: 'http:', host: '127.0.0.1:8080' };

function setup(token = '') {
  FakeSocket.opened = [];
  const model = new DebateModel();
  const stream = new DebateStream('d1', model, {
    connect: (url) => new FakeSocket(url),
    token: () => token,
    location,
    random: () => 0.5,
    baseDelayMs: 100,
    maxDelayMs: 1000,
  });
  stream.start();
  return { model, stream, socket: () => FakeSocket.opened[FakeSocket.opened.length - 1]! };
}

describe('DebateStream', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('connects, goes live and ends with the debate', () => {
    const { model, stream, socket } = setup('secret');
    expect(socket().url).toBe('ws://127.0.0.1:8080/ws?debate_id=d1&since=0&token=secret');
    expect(stream.state.value.kind).toBe('connecting');
    socket().connected();
    expect(stream.state.value.kind).toBe('live');
    socket().deliver(...opening(), event(6, 'debate_end', { status: 'completed', result: {} }));
    expect(stream.state.value.kind).toBe('ended');
    expect(socket().closedWith).toBe(1000);
    expect(model.lastSeq).toBe(6);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.opened).toHaveLength(1);
  });

  it('reconnects after a drop with since = the last seq, with growing delays, and never duplicates', () => {
    const { model, stream, socket } = setup();
    socket().connected();
    socket().deliver(...opening().slice(0, 4));
    socket().drop();
    expect(stream.state.value).toMatchObject({ kind: 'reconnecting', since: 4, attempt: 1 });
    vi.advanceTimersByTime(74); // first delay: 100 ms ceiling, at least half of it (75 with random 0.5)
    expect(FakeSocket.opened).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.opened).toHaveLength(2);
    expect(socket().since).toBe(4);
    // The server is still down: the next wait doubles.
    socket().drop();
    vi.advanceTimersByTime(149);
    expect(FakeSocket.opened).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.opened).toHaveLength(3);
    // Back: the replay overlaps what we have; nothing is shown twice.
    socket().connected();
    socket().deliver(...opening(), event(6, 'propose', { agent: 'c', phase: 'propose', answer: 'x' }, { agent: 'c', round: 1 }));
    expect(stream.state.value.kind).toBe('live');
    const seqs = model.groups.value.flatMap((g) => g.items.value).map((i) => i.seq);
    expect(seqs).toEqual([4, 5, 6]);
    expect(stream.reconnects.value).toBe(2);
  });

  it('caps the delay', () => {
    const { stream, socket } = setup();
    for (let i = 0; i < 12; i += 1) {
      socket().drop();
      vi.runOnlyPendingTimers();
    }
    socket().drop();
    const state = stream.state.value;
    expect(state.kind).toBe('reconnecting');
    if (state.kind === 'reconnecting') expect(state.retryAt - Date.now()).toBeLessThanOrEqual(1000);
  });

  it('refuses a gap: drops the connection and resumes from the last contiguous seq', () => {
    const { model, socket } = setup();
    socket().connected();
    socket().deliver(...opening().slice(0, 3));
    socket().deliver(event(7, 'vote', { agent: 'a', choice: 'x' }));
    expect(model.lastSeq).toBe(3);
    expect(socket().closedWith).toBe(4000);
    vi.runOnlyPendingTimers();
    expect(socket().since).toBe(3);
  });

  it('stops for good on an unknown debate or a refused token', () => {
    const onAuth = vi.fn();
    FakeSocket.opened = [];
    const stream = new DebateStream('d1', new DebateModel(), { connect: (url) => new FakeSocket(url), location, onAuthFailure: onAuth });
    stream.start();
    FakeSocket.opened[0]!.drop(4401, 'missing or invalid token');
    expect(stream.state.value).toMatchObject({ kind: 'failed', code: 4401 });
    expect(onAuth).toHaveBeenCalledWith(4401, 'missing or invalid token');
    vi.runOnlyPendingTimers();
    expect(FakeSocket.opened).toHaveLength(1);
    const other = setup();
    other.socket().drop(4404, '');
    expect(other.stream.state.value).toMatchObject({ kind: 'failed', code: 4404, reason: 'There is no debate with this id.' });
  });

  it('builds wss URLs for https pages', () => {
    expect(socketUrl({ protocol: 'https:', host: 'a.example' }, 'x y', 12, '')).toBe('wss://a.example/ws?debate_id=x+y&since=12');
  });
});
