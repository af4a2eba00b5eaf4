/** The shell: skip link, navigation, banners, the routes, the token dialog and the
 * polite live region. */
import { QueryClient, QueryClientProvider } from '@tanstack/preact-query';
import { Link, Route, Switch, useLocation } from 'wouter-preact';
import { useEffect } from 'preact/hooks';
import { ApiError } from '@/api/client';
import { useHealth, useMaintenance } from '@/api/shared';
import { LiveRegion } from '@/components/LiveRegion';
import { AdminPage } from '@/features/admin';
import { DebatePage, HistoryPage } from '@/features/debates';
import { EvalRunPage, EvalsPage } from '@/features/evals';
import { KnowledgeItemPage, KnowledgeSearchPage } from '@/features/knowledge';
import { LeaderboardPage } from '@/features/leaderboard';
import { NewDebatePage } from '@/features/new-debate';
import { TokenDialog } from './TokenDialog';

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        retry: (count, error) => !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 2,
        refetchOnWindowFocus: false,
      },
    },
  });
}

const NAV = [
  { href: '/', label: 'New debate', match: (p: string) => p === '/' },
  { href: '/debates', label: 'History', match: (p: string) => p.startsWith('/debates') },
  { href: '/knowledge', label: 'Knowledge', match: (p: string) => p.startsWith('/knowledge') },
  { href: '/leaderboard', label: 'Leaderboard', match: (p: string) => p.startsWith('/leaderboard') },
  { href: '/evals', label: 'Evaluations', match: (p: string) => p.startsWith('/evals') },
  { href: '/admin', label: 'Admin', match: (p: string) => p.startsWith('/admin') },
];

function Nav() {
  const [location] = useLocation();
  return (
    <nav class="nav" aria-label="Main">
      <Link href="/" class="brand">
        <svg viewBox="0 0 32 32" width="22" height="22" aria-hidden="true">
          <rect width="32" height="32" rx="7" fill="currentColor" />
          <path d="M9 23 16 8l7 15M11.8 17.5h8.4" fill="none" stroke="var(--bg)" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round" />
        </svg>
        <span>Aragora</span>
      </Link>
      <ul>
        {NAV.map((item) => (
          <li key={item.href}>
            <Link href={item.href} aria-current={item.match(location) ? 'page' : undefined}>
              {item.label}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function Banners() {
  const maintenance = useMaintenance();
  const health = useHealth();
  return (
    <>
      {maintenance.data?.enabled ? (
        <div class="banner banner-warn" role="status" data-testid="maintenance-banner">
          <strong>Maintenance:</strong> {maintenance.data.message || 'new debates are paused; running ones finish.'}
        </div>
      ) : null}
      {health.isError ? (
        <div class="banner banner-bad" role="alert">
          The server is not answering. Retrying…
        </div>
      ) : health.data?.status === 'unhealthy' ? (
        <div class="banner banner-bad" role="alert">
          The server reports it is unhealthy (database unreachable).
        </div>
      ) : null}
    </>
  );
}

function NotFound() {
  return (
    <div>
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. <Link href="/">Start a debate</Link> or look through the <Link href="/debates">history</Link>.
      </p>
    </div>
  );
}

function Title() {
  const [location] = useLocation();
  useEffect(() => {
    const item = NAV.find((n) => n.match(location));
    document.title = item ? `${item.label} · Aragora` : 'Aragora';
    // Move focus to the main region on navigation so keyboard and screen reader users
    // start at the new page, not at the link they followed.
    const main = document.getElementById('main');
    if (main && document.activeElement && document.activeElement !== document.body) main.focus({ preventScroll: true });
  }, [location]);
  return null;
}

export function App({ client }: { client: QueryClient }) {
  return (
    <QueryClientProvider client={client}>
      <a href="#main" class="skip">
        Skip to content
      </a>
      <header class="top">
        <Nav />
      </header>
      <Banners />
      <Title />
      <main id="main" tabIndex={-1}>
        <Switch>
          <Route path="/">{() => <NewDebatePage />}</Route>
          <Route path="/debates">{() => <HistoryPage />}</Route>
          <Route path="/debates/:id">{(params) => <DebatePage key={params.id} id={params.id} />}</Route>
          <Route path="/knowledge">{() => <KnowledgeSearchPage />}</Route>
          <Route path="/knowledge/:id">{(params) => <KnowledgeItemPage id={decodeURIComponent(params.id)} />}</Route>
          <Route path="/leaderboard">{() => <LeaderboardPage />}</Route>
          <Route path="/evals">{() => <EvalsPage />}</Route>
          <Route path="/evals/:name">{(params) => <EvalRunPage key={params.name} name={decodeURIComponent(params.name)} />}</Route>
          <Route path="/admin" nest>
            {() => <AdminPage />}
          </Route>
          <Route>{() => <NotFound />}</Route>
        </Switch>
      </main>
      <TokenDialog />
      <LiveRegion />
    </QueryClientProvider>
  );
}
