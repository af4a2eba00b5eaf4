/** `/knowledge` (search) and `/knowledge/{id}` (an item with its typed links, the debate
 * it came from, and its conflicts highlighted). */
import { keepPreviousData, useQuery } from '@tanstack/preact-query';
import { useEffect, useState } from 'preact/hooks';
import { Link, useLocation, useSearch } from 'wouter-preact';
import { api } from '@/api/client';
import type { KnowledgeItem, SearchHit } from '@/api/types';
import { Badge, Card, Empty, ErrorNote, Spinner, type Tone } from '@/components/ui';
import { Markdown } from '@/lib/markdown';
import { percent, when } from '@/lib/format';

const KINDS = ['', 'decision', 'claim', 'dissent', 'evidence', 'note'];

/** Search snippets mark matches with <mark>…</mark>; everything else is text. */
export function Snippet({ text }: { text: string }) {
  const parts = text.split(/(<mark>[\s\S]*?<\/mark>)/g);
  return (
    <p class="snippet">
      {parts.map((part, index) =>
        part.startsWith('<mark>') && part.endsWith('</mark>') ? <mark key={index}>{part.slice(6, -7)}</mark> : part,
      )}
    </p>
  );
}

function linkTone(kind: string): Tone {
  return kind === 'contradicts' ? 'bad' : kind === 'supports' ? 'good' : 'info';
}

export function KnowledgeSearchPage() {
  const params = new URLSearchParams(useSearch());
  const [, navigate] = useLocation();
  const [q, setQ] = useState(params.get('q') ?? '');
  const kind = params.get('kind') ?? '';
  const query = params.get('q') ?? '';
  useEffect(() => {
    const timer = setTimeout(() => {
      if (q === query) return;
      const next = new URLSearchParams();
      if (q) next.set('q', q);
      if (kind) next.set('kind', kind);
      navigate(`/knowledge${next.toString() ? `?${next.toString()}` : ''}`, { replace: true });
    }, 250);
    return () => clearTimeout(timer);
  }, [q]);
  const results = useQuery({
    queryKey: ['knowledge', 'search', query, kind],
    queryFn: ({ signal }) =>
      api<{ query: string; results: (SearchHit & { content?: string })[]; total: number }>('/api/v1/knowledge/search', {
        signal,
        query: { q: query, kind, limit: 50 },
      }),
    placeholderData: keepPreviousData,
  });
  return (
    <div>
      <header class="page-head">
        <h1>Knowledge</h1>
        <p class="muted">Decisions, claims and dissent from past debates; later debates draw on them.</p>
      </header>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          <span>Search</span>
          <input type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} placeholder="e.g. PostgreSQL" name="q" />
        </label>
        <label>
          <span>Kind</span>
          <select
            value={kind}
            onChange={(e) => {
              const next = new URLSearchParams();
              if (q) next.set('q', q);
              if (e.currentTarget.value) next.set('kind', e.currentTarget.value);
              navigate(`/knowledge?${next.toString()}`, { replace: true });
            }}
          >
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k || 'any'}
              </option>
            ))}
          </select>
        </label>
        {results.isFetching ? <Spinner label="Searching" /> : null}
      </form>
      {results.isError ? <ErrorNote error={results.error} title="Search failed" /> : null}
      {results.data ? (
        results.data.results.length === 0 ? (
          <Empty>{query ? `Nothing matches “${query}”.` : 'The knowledge base is empty: finished debates with a consensus add to it.'}</Empty>
        ) : (
          <ol class="results" data-testid="knowledge-results">
            {results.data.results.map((hit) => (
              <li key={hit.id} class="result">
                <Link href={`/knowledge/${encodeURIComponent(hit.id)}`}>{hit.title}</Link> <Badge tone={hit.kind === 'dissent' ? 'warn' : 'neutral'}>{hit.kind}</Badge>
                {hit.snippet ? <Snippet text={hit.snippet} /> : null}
              </li>
            ))}
          </ol>
        )
      ) : null}
    </div>
  );
}

export function KnowledgeItemPage({ id }: { id: string }) {
  const item = useQuery({
    queryKey: ['knowledge', 'item', id],
    queryFn: ({ signal }) => api<KnowledgeItem>(`/api/v1/knowledge/items/${encodeURIComponent(id)}`, { signal }),
  });
  if (item.isPending) return <Spinner />;
  if (item.isError) return <ErrorNote error={item.error} title="Could not load this item" />;
  const data = item.data;
  const backlinks = (data.backlinks ?? []) as unknown as { kind: string; source: string; created_at?: string | null }[];
  const conflicts = [...data.links.filter((l) => l.kind === 'contradicts'), ...backlinks.filter((l) => l.kind === 'contradicts')];
  return (
    <div>
      <header class="page-head">
        <p class="crumbs">
          <Link href="/knowledge">Knowledge</Link> / <code>{data.id}</code>
        </p>
        <h1>{data.title}</h1>
        <div class="row wrap">
          <Badge>{data.kind}</Badge>
          {data.confidence !== null ? <Badge>confidence {percent(data.confidence)}</Badge> : null}
          {data.tags.map((tag) => (
            <Badge key={tag} tone="info">
              {tag}
            </Badge>
          ))}
        </div>
      </header>
      {conflicts.length > 0 ? (
        <div class="banner banner-bad" role="note" data-testid="conflict">
          This item is in conflict with {conflicts.length === 1 ? 'another item' : `${conflicts.length} other items`}: a later or earlier decision on the same question disagreed.
        </div>
      ) : null}
      <div class="two-col">
        <Card title="Content">
          <Markdown text={data.content} />
          <p class="muted small">
            Created {when(data.created_at)}
            {data.updated_at !== data.created_at ? `, updated ${when(data.updated_at)}` : ''}
          </p>
        </Card>
        <div>
          <Card title="Came from">
            {data.source.debate_id ? (
              <p>
                Debate <Link href={`/debates/${data.source.debate_id}`}>{data.source.debate_id.slice(0, 8)}</Link>
                {data.source.agent ? ` (agent ${data.source.agent})` : ''}
              </p>
            ) : (
              <p class="muted">Written by hand (no debate).</p>
            )}
          </Card>
          <Card title="Links">
            {data.links.length + backlinks.length === 0 ? (
              <p class="muted">No links.</p>
            ) : (
              <ul class="links" data-testid="links">
                {data.links.map((link) => (
                  <li key={`o${link.kind}${link.target}`} class={link.kind === 'contradicts' ? 'conflict' : ''}>
                    <Badge tone={linkTone(link.kind)}>{link.kind}</Badge> → <Link href={`/knowledge/${encodeURIComponent(link.target)}`}>{link.target}</Link>
                  </li>
                ))}
                {backlinks.map((link) => (
                  <li key={`i${link.kind}${link.source}`} class={link.kind === 'contradicts' ? 'conflict' : ''}>
                    <Link href={`/knowledge/${encodeURIComponent(link.source)}`}>{link.source}</Link> → <Badge tone={linkTone(link.kind)}>{link.kind}</Badge> this
                  </li>
                ))}
              </ul>
            )}
          </Card>
          {Object.keys(data.provenance).length ? (
            <Card title="Provenance">
              <dl class="facts small">
                {Object.entries(data.provenance).map(([key, value]) => (
                  <div key={key}>
                    <dt>{key}</dt>
                    <dd>{typeof value === 'string' ? value : JSON.stringify(value)}</dd>
                  </div>
                ))}
              </dl>
            </Card>
          ) : null}
        </div>
      </div>
    </div>
  );
}
