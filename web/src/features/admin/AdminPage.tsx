/** `/admin`: health, stats, agents and their circuit breakers, maintenance, tokens, and
 * knowledge export/import. Every call here needs an admin token (kept in sessionStorage). */
import { useMutation, useQuery, useQueryClient } from '@tanstack/preact-query';
import { useState } from 'preact/hooks';
import { api, describeError, upload } from '@/api/client';
import { sharedKeys, useAgents, useHealth } from '@/api/shared';
import type { CreatedToken, Maintenance, Stats, TokenList } from '@/api/types';
import { Badge, Button, Card, ErrorNote, Spinner, statusTone } from '@/components/ui';
import { auth } from '@/stores/auth';
import { agentLabel, seconds, when } from '@/lib/format';

function HealthCard() {
  const health = useHealth(5000);
  return (
    <Card title="Health" id="health">
      {health.isPending ? <Spinner /> : null}
      {health.isError ? <ErrorNote error={health.error} /> : null}
      {health.data ? (
        <>
          <p>
            <Badge tone={statusTone(health.data.status)}>{health.data.status}</Badge> <span class="muted small">version {health.data.version} · up {seconds(health.data.uptime_seconds)}</span>
          </p>
          <ul class="components" data-testid="health-components">
            {Object.entries(health.data.components).map(([name, state]) => (
              <li key={name}>
                {name} <Badge tone={statusTone(state)}>{state}</Badge>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </Card>
  );
}

function StatsCard() {
  const stats = useQuery({
    queryKey: ['admin', 'stats'],
    queryFn: ({ signal }) => api<Stats>('/api/v1/admin/stats', { signal }),
    refetchInterval: 5000,
  });
  const figures: [string, number | undefined][] = stats.data
    ? [
        ['Active', stats.data.active_debates],
        ['Queued', stats.data.queued_debates],
        ['Completed', stats.data.completed_debates],
        ['Failed', stats.data.failed_debates],
        ['Cancelled', stats.data.cancelled_debates],
      ]
    : [];
  const replicas = stats.data?.replicas;
  return (
    <Card title="Debates" id="stats">
      {stats.isError ? <ErrorNote error={stats.error} /> : null}
      {stats.data ? (
        <>
          <dl class="stats" data-testid="stats">
            {figures.map(([label, value]) => (
              <div key={label}>
                <dt>{label}</dt>
                <dd>{value ?? 0}</dd>
              </div>
            ))}
          </dl>
          <h3>Replicas</h3>
          {Array.isArray(replicas) ? (
            <ul>
              {(replicas as Record<string, unknown>[]).map((r, i) => (
                <li key={i}>{Object.entries(r).map(([k, v]) => `${k}: ${String(v)}`).join(' · ')}</li>
              ))}
            </ul>
          ) : typeof replicas === 'number' ? (
            <p>{replicas} replicas</p>
          ) : null}
          {stats.data.local ? (
            <p class="small">
              This replica: <code>{stats.data.local.worker}</code> · {stats.data.local.running ?? 0} running · {stats.data.local.claiming ? 'taking new debates' : 'not taking new debates (draining)'}
            </p>
          ) : null}
        </>
      ) : stats.isPending ? (
        <Spinner />
      ) : null}
    </Card>
  );
}

function AgentsCard() {
  const agents = useAgents();
  return (
    <Card title="Agents" id="agents">
      {agents.isError ? <ErrorNote error={agents.error} /> : null}
      {agents.data ? (
        <div class="table-wrap">
          <table class="table compact" data-testid="agents">
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Provider</th>
                <th scope="col">Circuit / status</th>
                <th scope="col" class="hide-narrow">Detail</th>
              </tr>
            </thead>
            <tbody>
              {agents.data.agents.map((agent) => (
                <tr key={agent.name}>
                  <td>{agentLabel(agent.name)}</td>
                  <td>{agent.provider}</td>
                  <td>
                    <Badge tone={statusTone(String(agent.circuit ?? agent.status))}>{String(agent.circuit ?? agent.status)}</Badge>
                  </td>
                  <td class="small hide-narrow">{agent.detail ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <Spinner />
      )}
    </Card>
  );
}

function MaintenanceCard() {
  const client = useQueryClient();
  const state = useQuery({
    queryKey: ['admin', 'maintenance'],
    queryFn: ({ signal }) => api<Maintenance>('/api/v1/admin/maintenance', { signal }),
  });
  const [message, setMessage] = useState<string | null>(null);
  const change = useMutation({
    mutationFn: (body: { enabled: boolean; message?: string }) => api<Maintenance>('/api/v1/admin/maintenance', { method: 'POST', body }),
    onSuccess: (data) => {
      client.setQueryData(['admin', 'maintenance'], data);
      void client.invalidateQueries({ queryKey: sharedKeys.maintenance });
      void client.invalidateQueries({ queryKey: sharedKeys.health });
    },
  });
  const text = message ?? state.data?.message ?? '';
  return (
    <Card title="Maintenance" id="maintenance">
      {state.isError ? <ErrorNote error={state.error} /> : null}
      {state.data ? (
        <form
          class="form"
          onSubmit={(e) => {
            e.preventDefault();
            change.mutate({ enabled: !state.data!.enabled, message: text });
          }}
        >
          <p>
            Maintenance is <Badge tone={state.data.enabled ? 'warn' : 'good'}>{state.data.enabled ? 'on' : 'off'}</Badge>
            <span class="muted small"> — while on, new debates are refused with the message; running and queued ones finish.</span>
          </p>
          <label class="field">
            <span>Message shown to users</span>
            <input value={text} onInput={(e) => setMessage(e.currentTarget.value)} maxLength={500} name="maintenance-message" placeholder="Back at 14:00 UTC" />
          </label>
          <Button type="submit" variant={state.data.enabled ? 'primary' : 'danger'} disabled={change.isPending}>
            {state.data.enabled ? 'Turn maintenance off' : 'Turn maintenance on'}
          </Button>
          {change.isError ? <p class="note note-bad">{describeError(change.error)}</p> : null}
        </form>
      ) : state.isPending ? (
        <Spinner />
      ) : null}
    </Card>
  );
}

function TokensCard() {
  const client = useQueryClient();
  const tokens = useQuery({ queryKey: ['admin', 'tokens'], queryFn: ({ signal }) => api<TokenList>('/api/v1/admin/tokens', { signal }) });
  const [name, setName] = useState('');
  const [role, setRole] = useState<'viewer' | 'operator' | 'admin'>('viewer');
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [copied, setCopied] = useState(false);
  const create = useMutation({
    mutationFn: () => api<CreatedToken>('/api/v1/admin/tokens', { method: 'POST', body: { name, role } }),
    onSuccess: (token) => {
      setCreated(token);
      setCopied(false);
      setName('');
      void client.invalidateQueries({ queryKey: ['admin', 'tokens'] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api<unknown>(`/api/v1/admin/tokens/${encodeURIComponent(id)}/revoke`, { method: 'POST', body: {} }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['admin', 'tokens'] }),
  });
  return (
    <Card title="API tokens" id="tokens">
      <form
        class="row wrap"
        onSubmit={(e) => {
          e.preventDefault();
          if (name.trim()) create.mutate();
        }}
      >
        <label class="field inline">
          <span>Name</span>
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} required maxLength={100} name="token-name" />
        </label>
        <label class="field inline">
          <span>Role</span>
          <select value={role} onChange={(e) => setRole(e.currentTarget.value as typeof role)} name="token-role">
            <option value="viewer">viewer (reads)</option>
            <option value="operator">operator (starts and cancels debates)</option>
            <option value="admin">admin (everything)</option>
          </select>
        </label>
        <Button type="submit" variant="primary" disabled={create.isPending || !name.trim()}>
          Create token
        </Button>
      </form>
      {create.isError ? <p class="note note-bad">{describeError(create.error)}</p> : null}
      {created ? (
        <div class="note note-info" role="status" data-testid="new-secret">
          <p>
            <strong>{created.name}</strong> ({created.role}): copy the secret now — it is shown only this once.
          </p>
          <p class="row wrap">
            <code class="secret">{created.secret}</code>
            <Button
              onClick={() => {
                void navigator.clipboard?.writeText(created.secret).then(() => setCopied(true));
              }}
            >
              {copied ? 'Copied' : 'Copy'}
            </Button>
            <Button variant="ghost" onClick={() => setCreated(null)}>
              Done
            </Button>
          </p>
        </div>
      ) : null}
      {tokens.isError ? <ErrorNote error={tokens.error} /> : null}
      {tokens.data ? (
        <div class="table-wrap">
          <table class="table compact" data-testid="tokens">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col" class="hide-narrow">Created</th>
                <th scope="col" class="hide-narrow">Last used</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.tokens.map((token) => (
                <tr key={token.id} class={token.revoked ? 'revoked' : ''}>
                  <td>
                    {token.name} <code class="small muted">{token.id}</code>
                  </td>
                  <td>{token.role}</td>
                  <td class="hide-narrow">{when(token.created_at)}</td>
                  <td class="hide-narrow">{token.last_used_at ? when(token.last_used_at) : 'never'}</td>
                  <td>
                    {token.revoked ? (
                      <Badge tone="bad">revoked</Badge>
                    ) : (
                      <Button
                        variant="danger"
                        onClick={() => {
                          if (confirm(`Revoke “${token.name}”? Clients using it stop working at once.`)) revoke.mutate(token.id);
                        }}
                      >
                        Revoke<span class="sr-only"> {token.name}</span>
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {tokens.data.tokens.length === 0 ? <p class="muted">No tokens besides the bootstrap admin token.</p> : null}
        </div>
      ) : null}
      {revoke.isError ? <p class="note note-bad">{describeError(revoke.error)}</p> : null}
    </Card>
  );
}

function KnowledgeBackupCard() {
  const [progress, setProgress] = useState<number | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [exporting, setExporting] = useState(false);
  const exportAll = async () => {
    setError(null);
    setExporting(true);
    try {
      const body = await api<unknown>('/api/v1/knowledge/export', { method: 'POST', body: {} });
      const url = URL.createObjectURL(new Blob([JSON.stringify(body)], { type: 'application/json' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `knowledge_backup_${new Date().toISOString().slice(0, 10)}.json`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
      const count = (body as { count?: number }).count;
      setResult(`Exported ${count ?? 'all'} items.`);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setExporting(false);
    }
  };
  const importFile = async (file: File) => {
    setError(null);
    setResult(null);
    setProgress(0);
    try {
      const body = await upload<Record<string, unknown>>('/api/v1/knowledge/import', file, setProgress);
      setResult(`Imported: ${Object.entries(body).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ')}`);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setProgress(null);
    }
  };
  return (
    <Card title="Knowledge backup" id="knowledge-backup">
      <div class="row wrap">
        <Button onClick={() => void exportAll()} disabled={exporting}>
          {exporting ? 'Exporting…' : '⤓ Export knowledge'}
        </Button>
        <label class="btn btn-secondary file-pick">
          ⤒ Import a backup…
          <input
            type="file"
            accept="application/json,.json"
            class="sr-only"
            data-testid="import-file"
            onChange={(e) => {
              const file = e.currentTarget.files?.[0];
              if (file) void importFile(file);
              e.currentTarget.value = '';
            }}
          />
        </label>
      </div>
      {progress !== null ? (
        <p>
          <progress max={1} value={progress} aria-label="Upload progress" /> {Math.round(progress * 100)}%
        </p>
      ) : null}
      {result ? (
        <p class="note note-good" role="status">
          {result}
        </p>
      ) : null}
      {error ? (
        <p class="note note-bad" role="alert" data-testid="import-error">
          {error}
        </p>
      ) : null}
      <p class="muted small">An import is all or nothing; importing the same file twice changes nothing.</p>
    </Card>
  );
}

export function AdminPage() {
  const token = auth.token.value;
  return (
    <div>
      <header class="page-head">
        <h1>Admin</h1>
        <p class="muted">
          {token ? (
            <>
              Using the token kept for this tab.{' '}
              <Button variant="ghost" onClick={() => auth.clear()}>
                Forget it
              </Button>
            </>
          ) : (
            <>
              These controls need an admin token.{' '}
              <Button variant="primary" onClick={() => auth.demand('required', 'Enter an admin token to use the admin page.')}>
                Enter token
              </Button>
            </>
          )}
        </p>
      </header>
      <div class="admin-grid">
        <HealthCard />
        {token ? (
          <>
            <StatsCard />
            <AgentsCard />
            <MaintenanceCard />
            <TokensCard />
            <KnowledgeBackupCard />
          </>
        ) : (
          <AgentsCard />
        )}
      </div>
    </div>
  );
}
