/** `/debates/{id}`: the live (or replayed) debate, its verdict, cost and receipt. */
import { useQueryClient } from '@tanstack/preact-query';
import { useSignalEffect } from '@preact/signals';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { describeError } from '@/api/client';
import { TERMINAL } from '@/api/types';
import { Badge, Button, Card, ErrorNote, Spinner, statusTone } from '@/components/ui';
import { announce } from '@/components/LiveRegion';
import { auth } from '@/stores/auth';
import { ReceiptPanel } from '@/features/receipts';
import { seconds } from '@/lib/format';
import { debateKeys, useCancelDebate, useDebate } from '../api/queries';
import { DebateModel } from '../live/fold';
import { DebateStream, type StreamState } from '../live/stream';
import { ConvergenceChart } from './ConvergenceChart';
import { CostMeter } from './CostMeter';
import { Timeline } from './Timeline';
import { Verdict } from './Verdict';

function ConnectionBanner({ state }: { state: StreamState }) {
  const [, tick] = useState(0);
  useEffect(() => {
    if (state.kind !== 'reconnecting') return;
    const timer = setInterval(() => tick((n) => n + 1), 500);
    return () => clearInterval(timer);
  }, [state]);
  if (state.kind === 'reconnecting') {
    const wait = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
    return (
      <div class="banner banner-warn" role="status" data-testid="connection-banner">
        Connection lost — reconnecting… <span class="small">(attempt {state.attempt}{wait > 0 ? `, next try in ${wait} s` : ''}; resuming after event {state.since})</span>
      </div>
    );
  }
  if (state.kind === 'failed') {
    return (
      <div class="banner banner-bad" role="alert" data-testid="connection-banner">
        {state.reason}
      </div>
    );
  }
  return null;
}

export function DebatePage({ id }: { id: string }) {
  const client = useQueryClient();
  const doc = useDebate(id);
  const cancel = useCancelDebate(id);
  const model = useMemo(() => {
    const m = new DebateModel();
    m.announce = announce;
    return m;
  }, [id]);
  const stream = useMemo(
    () => new DebateStream(id, model, { token: () => auth.token.peek(), onAuthFailure: (code, reason) => auth.demand(code === 4401 ? 'unauthorized' : 'forbidden', reason) }),
    [id, model],
  );
  useEffect(() => {
    stream.start();
    return () => stream.stop();
  }, [stream]);
  // Reconnect with the new token once the dialog got one after a refused stream.
  useSignalEffect(() => {
    const token = auth.token.value;
    if (token && stream.state.peek().kind === 'failed') stream.start();
  });
  // The stored document (verdict details, receipt, cost as recorded) once it ends.
  useSignalEffect(() => {
    const status = model.status.value;
    if (TERMINAL.includes(status)) void client.invalidateQueries({ queryKey: debateKeys.one(id) });
  });

  const state = stream.state.value;
  const status = TERMINAL.includes(model.status.value) ? model.status.value : (doc.data?.status ?? model.status.value);
  const meta = model.meta.value;
  const task = meta?.task ?? doc.data?.task ?? '';
  const finished = TERMINAL.includes(status);
  const threshold = typeof meta?.protocol.convergence_threshold === 'number' ? meta.protocol.convergence_threshold : null;
  const docData = finished ? doc.data : undefined;

  if (doc.isError && state.kind === 'failed') return <ErrorNote error={doc.error} title="This debate could not be loaded" />;

  return (
    <div class="debate-page">
      <ConnectionBanner state={state} />
      <header class="page-head">
        <p class="crumbs">
          <Link href="/debates">History</Link> / debate <code>{id.slice(0, 8)}</code>
        </p>
        <h1 data-testid="debate-task">{task || (doc.isPending ? 'Loading…' : 'Debate')}</h1>
        <div class="row wrap">
          <Badge tone={statusTone(status)}>
            <span data-testid="debate-status">{status}</span>
          </Badge>
          {meta?.mode ? <Badge>mode: {meta.mode}</Badge> : null}
          {meta?.protocol.rounds ? <Badge>up to {String(meta.protocol.rounds)} rounds</Badge> : null}
          {meta?.protocol.consensus ? <Badge>rule: {String(meta.protocol.consensus)}</Badge> : null}
          {doc.data?.duration_seconds ? <Badge>{seconds(doc.data.duration_seconds)}</Badge> : null}
          {state.kind === 'live' && !finished ? <Badge tone="info">● live</Badge> : null}
          {!finished ? (
            <Button variant="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
              {cancel.isPending ? 'Cancelling…' : 'Cancel debate'}
            </Button>
          ) : null}
        </div>
        {cancel.isError ? <p class="note note-bad">{describeError(cancel.error)}</p> : null}
        {doc.data?.status === 'queued' && doc.data.queue_position ? <p class="muted">Position in the queue: {doc.data.queue_position}</p> : null}
        {meta?.context ? (
          <details>
            <summary>Context given to the agents</summary>
            <p class="prewrap">{meta.context}</p>
          </details>
        ) : null}
      </header>
      <div class="debate-grid">
        <div class="debate-main">
          <Timeline model={model} />
        </div>
        <aside class="debate-side" aria-label="Verdict, cost and receipt">
          <Verdict doc={docData} consensus={model.consensus.value} end={model.end.value} />
          <CostMeter live={model.costs.value} recorded={docData?.cost} agents={meta?.agents ?? []} />
          <ConvergenceChart points={model.convergence.value} threshold={threshold} />
          {docData?.receipt ? <ReceiptPanel link={docData.receipt} /> : finished && status === 'completed' && doc.isFetching ? <Spinner label="Loading the receipt" /> : null}
          {model.notices.value.length > 0 ? (
            <Card title={`Warnings (${model.notices.value.length})`} id="warnings">
              <ul class="warnings">
                {model.notices.value.map((notice) => (
                  <li key={notice.seq}>
                    <a href={`#seq-${notice.seq}`}>
                      <Badge tone={notice.severity === 'error' ? 'bad' : 'warn'}>{notice.code}</Badge>
                    </a>{' '}
                    {notice.round ? `round ${notice.round}: ` : ''}
                    {notice.agent ? `${notice.agent}: ` : ''}
                    {notice.message}
                  </li>
                ))}
              </ul>
            </Card>
          ) : null}
          {docData?.references?.length ? (
            <Card title="Past decisions it drew on">
              <ul>
                {docData.references.map((ref) => (
                  <li key={ref.id}>
                    <Link href={`/knowledge/${encodeURIComponent(ref.id)}`}>{ref.title}</Link>
                  </li>
                ))}
              </ul>
            </Card>
          ) : null}
          {docData?.knowledge_items?.length ? (
            <Card title="Added to knowledge">
              <ul>
                {docData.knowledge_items.map((item) => (
                  <li key={item}>
                    <Link href={`/knowledge/${encodeURIComponent(item)}`}>{item}</Link>
                  </li>
                ))}
              </ul>
            </Card>
          ) : null}
        </aside>
      </div>
    </div>
  );
}
