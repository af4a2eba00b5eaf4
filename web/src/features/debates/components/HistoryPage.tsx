/** `/debates`: every debate, newest first, searchable by task, filterable by status. */
import { useEffect, useState } from 'preact/hooks';
import { Link, useSearch, useLocation } from 'wouter-preact';
import type { DebateStatus, DebateSummary } from '@/api/types';
import { TERMINAL } from '@/api/types';
import { Badge, Empty, ErrorNote, Pager, Spinner, statusTone } from '@/components/ui';
import { seconds, usd, when } from '@/lib/format';
import { useDebate, useDebateList } from '../api/queries';

const STATUSES: (DebateStatus | '')[] = ['', 'queued', 'running', 'completed', 'failed', 'cancelled'];
const LIMIT = 20;

/** Cost and duration live in each debate's document (the list stays small). */
function CostCells({ debate }: { debate: DebateSummary }) {
  const doc = useDebate(debate.id);
  if (!doc.data) {
    return (
      <>
        <td class="num muted">…</td>
        <td class="num muted">…</td>
      </>
    );
  }
  const finished = TERMINAL.includes(doc.data.status);
  return (
    <>
      <td class="num">{finished || doc.data.duration_seconds ? seconds(doc.data.duration_seconds) : '—'}</td>
      <td class="num">{doc.data.cost ? usd(doc.data.cost.usd, doc.data.cost.estimated) : '—'}</td>
    </>
  );
}

export function HistoryPage() {
  const search = new URLSearchParams(useSearch());
  const [, navigate] = useLocation();
  const [q, setQ] = useState(search.get('q') ?? '');
  const status = (search.get('status') ?? '') as DebateStatus | '';
  const offset = Math.max(0, Number(search.get('offset') ?? 0) || 0);
  const [debounced, setDebounced] = useState(q);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(q), 250);
    return () => clearTimeout(timer);
  }, [q]);
  const go = (next: { q?: string; status?: string; offset?: number }) => {
    const params = new URLSearchParams();
    const nq = next.q ?? debounced;
    const ns = next.status ?? status;
    const no = next.offset ?? 0;
    if (nq) params.set('q', nq);
    if (ns) params.set('status', ns);
    if (no) params.set('offset', String(no));
    const text = params.toString();
    navigate(text ? `/debates?${text}` : '/debates', { replace: true });
  };
  useEffect(() => {
    if (debounced !== (search.get('q') ?? '')) go({ q: debounced });
  }, [debounced]);
  const list = useDebateList({ q: search.get('q') ?? '', status, limit: LIMIT, offset });
  return (
    <div>
      <header class="page-head">
        <h1>History</h1>
      </header>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          <span>Search tasks</span>
          <input type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} placeholder="e.g. PostgreSQL" />
        </label>
        <label>
          <span>Status</span>
          <select value={status} onChange={(e) => go({ status: e.currentTarget.value })}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
        {list.isFetching ? <Spinner label="Updating" /> : null}
      </form>
      {list.isError ? <ErrorNote error={list.error} title="Could not load the debates" /> : null}
      {list.data ? (
        list.data.debates.length === 0 ? (
          <Empty>{search.get('q') || status ? 'No debate matches.' : 'No debates yet. Start one from the home page.'}</Empty>
        ) : (
          <>
            <div class="table-wrap">
              <table class="table" data-testid="history">
                <caption class="sr-only">Debates, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Task</th>
                    <th scope="col">Status</th>
                    <th scope="col" class="hide-narrow">Mode</th>
                    <th scope="col" class="hide-narrow">Created</th>
                    <th scope="col" class="num">Duration</th>
                    <th scope="col" class="num">Cost</th>
                  </tr>
                </thead>
                <tbody>
                  {list.data.debates.map((debate) => (
                    <tr key={debate.id}>
                      <td class="task-cell">
                        <Link href={`/debates/${debate.id}`}>{debate.task}</Link>
                      </td>
                      <td>
                        <Badge tone={statusTone(debate.status)}>{debate.status}</Badge>
                      </td>
                      <td class="hide-narrow">{debate.mode ?? 'auto'}</td>
                      <td class="hide-narrow">{when(debate.created_at)}</td>
                      <CostCells debate={debate} />
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <p class="muted small">{list.data.total.toLocaleString('en-US')} debates</p>
            <Pager offset={offset} limit={LIMIT} total={list.data.total} onChange={(next) => go({ offset: next })} />
          </>
        )
      ) : list.isPending ? (
        <Spinner />
      ) : null}
    </div>
  );
}
