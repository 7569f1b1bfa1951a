/**
 * The zen-watcher UI: overview, findings list, per-resource page and a finding's detail. Routing is in the URL
 * hash (#/findings?severity=high, #/resource/<ns>/<kind>/<name>, #/finding/<ns>/<name>), so /ui/ is one file and
 * every view can be bookmarked. All data comes from the read API of the same origin.
 */
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { render } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  type Detail,
  get,
  type Item,
  type Page,
  type ResourceKey,
  type ResourceView,
  SEVERITIES,
  type Summary,
  stream,
  token,
} from './api.ts';
import './style.css';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

// ---- routing -------------------------------------------------------------------------------------------------

interface Route {
  view: 'overview' | 'findings' | 'resource' | 'finding';
  parts: string[];
  params: URLSearchParams;
}

function parseHash(): Route {
  const h = location.hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = h.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const view = (['findings', 'resource', 'finding'].includes(parts[0] ?? '') ? parts[0] : 'overview') as Route['view'];
  return { view, parts: parts.slice(1), params: new URLSearchParams(query) };
}

function useRoute(): Route {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

const enc = encodeURIComponent;
export const hrefs = {
  findings: (p: Record<string, string | undefined> = {}) => {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(p)) if (v) qs.set(k, v);
    return `#/findings${qs.size ? `?${qs}` : ''}`;
  },
  resource: (r: ResourceKey) => `#/resource/${enc(r.namespace)}/${enc(r.kind)}/${enc(r.name)}`,
  finding: (i: { namespace: string; name: string }) => `#/finding/${enc(i.namespace)}/${enc(i.name)}`,
};

// ---- helpers ---------------------------------------------------------------------------------------------------

function useApi<T>(path: string | undefined, params: Record<string, string | undefined>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: ApiError | Error; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    get<T>(path, params).then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [path, tick, ...deps]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

const fmtTime = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString() : '—');
const fmtNum = (n: number) => n.toLocaleString();

function Sev({ s }: { s: string }) {
  return <span class={`sev sev-${s}`}>{s}</span>;
}

function ResourceLink({ r, ns }: { r?: Item['resource']; ns: string }) {
  if (!r?.name) return <span class="muted">—</span>;
  const key = { kind: r.kind || 'Unknown', namespace: r.namespace || ns, name: r.name };
  return (
    <a href={hrefs.resource(key)}>
      {key.kind}/{key.name}
    </a>
  );
}

function ErrorBox({ error, onToken }: { error: Error; onToken?: () => void }) {
  const status = error instanceof ApiError ? error.status : 0;
  return (
    <div class="error" role="alert">
      <p>
        {status ? `${status}: ` : ''}
        {error.message}
      </p>
      {(status === 401 || status === 403) && onToken ? (
        <button type="button" onClick={onToken}>
          Use a token
        </button>
      ) : null}
    </div>
  );
}

function TokenForm({ onDone }: { onDone: () => void }) {
  const [value, setValue] = useState('');
  return (
    <form
      class="token"
      onSubmit={(e) => {
        e.preventDefault();
        if (value.trim()) token.set(value.trim());
        onDone();
      }}
    >
      <label>
        Bearer token (kept in this tab only)
        <input type="password" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
      </label>
      <p class="muted">
        Kubernetes: <code>kubectl create token &lt;service-account&gt;</code>; standalone: a line of
        ZEN_READ_TOKEN_FILE.
      </p>
      <button type="submit">Save</button>{' '}
      <button
        type="button"
        onClick={() => {
          token.clear();
          onDone();
        }}
      >
        Clear
      </button>
    </form>
  );
}

// ---- overview ----------------------------------------------------------------------------------------------------

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

const SOURCE_COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#76b7b2', '#edc948', '#e15759', '#9c755f'];

function TrendChart({ summary, by }: { summary: Summary; by: 'severity' | 'source' }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const keys = by === 'severity' ? [...SEVERITIES] : Object.keys(summary.bySource).sort();
  useEffect(() => {
    if (!canvas.current) return;
    const text = cssVar('--fg');
    const grid = cssVar('--border');
    const chart = new Chart(canvas.current, {
      type: 'bar',
      data: {
        labels: summary.hourly.map((h) =>
          new Date(h.hour).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
        ),
        datasets: keys.map((k, i) => ({
          label: k,
          data: summary.hourly.map((h) => (by === 'severity' ? h.bySeverity : h.bySource)[k] ?? 0),
          backgroundColor: by === 'severity' ? cssVar(`--sev-${k}`) : SOURCE_COLORS[i % SOURCE_COLORS.length]!,
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { stacked: true, ticks: { color: text }, grid: { color: grid } },
          y: { stacked: true, beginAtZero: true, ticks: { color: text, precision: 0 }, grid: { color: grid } },
        },
        plugins: { legend: { labels: { color: text } } },
      },
    });
    return () => chart.destroy();
  }, [summary, by]);
  return (
    <figure class="chart">
      <div class="chart-box">
        <canvas
          ref={canvas}
          role="img"
          aria-label={`New findings per hour over the last ${summary.hourly.length} hours, by ${by}`}
        />
      </div>
      <details>
        <summary>Chart data as a table</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Hour</th>
              {keys.map((k) => (
                <th scope="col" key={k}>
                  {k}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {summary.hourly
              .filter((h) => h.new > 0)
              .map((h) => (
                <tr key={h.hour}>
                  <th scope="row">{fmtTime(h.hour)}</th>
                  {keys.map((k) => (
                    <td key={k}>{(by === 'severity' ? h.bySeverity : h.bySource)[k] ?? 0}</td>
                  ))}
                </tr>
              ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

function Overview({ onToken }: { onToken: () => void }) {
  const { data: s, error } = useApi<Summary>('summary', {}, []);
  const [by, setBy] = useState<'severity' | 'source'>('severity');
  if (error) return <ErrorBox error={error} onToken={onToken} />;
  if (!s) return <p aria-busy="true">Loading…</p>;
  const sources = Object.keys(s.bySource).sort();
  return (
    <>
      <h1>Overview</h1>
      <section class="cards" aria-label="Counts">
        <a class="card" href={hrefs.findings()} data-testid="count-total">
          <span class="n">{fmtNum(s.total)}</span> findings
        </a>
        <a class="card" href={hrefs.findings({ phase: 'Active' })} data-testid="count-active">
          <span class="n">{fmtNum(s.active)}</span> active
        </a>
        <a class="card" href={hrefs.findings({ phase: 'Resolved' })} data-testid="count-resolved">
          <span class="n">{fmtNum(s.resolved)}</span> resolved
        </a>
        {SEVERITIES.map((sev) => (
          <a class={`card card-${sev}`} href={hrefs.findings({ severity: sev })} data-testid={`count-${sev}`} key={sev}>
            <span class="n">{fmtNum(s.bySeverity[sev] ?? 0)}</span> {sev}
          </a>
        ))}
      </section>
      <section aria-labelledby="trend">
        <h2 id="trend">New findings per hour</h2>
        <fieldset class="toggle">
          <legend class="sr-only">Group by</legend>
          {(['severity', 'source'] as const).map((b) => (
            <label key={b}>
              <input type="radio" name="by" checked={by === b} onChange={() => setBy(b)} /> by {b}
            </label>
          ))}
        </fieldset>
        <TrendChart summary={s} by={by} />
      </section>
      <div class="grid2">
        <section aria-labelledby="matrix">
          <h2 id="matrix">Severity × source</h2>
          <table class="matrix">
            <thead>
              <tr>
                <th scope="col">Severity</th>
                {sources.map((src) => (
                  <th scope="col" key={src}>
                    {src}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {SEVERITIES.map((sev) => (
                <tr key={sev}>
                  <th scope="row">
                    <Sev s={sev} />
                  </th>
                  {sources.map((src) => {
                    const n = s.bySeveritySource[sev]?.[src] ?? 0;
                    return (
                      <td key={src} data-testid={`matrix-${sev}-${src}`}>
                        {n ? <a href={hrefs.findings({ severity: sev, source: src })}>{fmtNum(n)}</a> : '0'}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section aria-labelledby="top">
          <h2 id="top">Resources with the most active findings</h2>
          {s.topResources.length === 0 ? (
            <p class="muted">None.</p>
          ) : (
            <ol class="top">
              {s.topResources.map((r) => (
                <li key={`${r.namespace}/${r.kind}/${r.name}`}>
                  <Sev s={r.worst} /> <a href={hrefs.resource(r)}>{`${r.namespace}/${r.kind}/${r.name}`}</a>{' '}
                  <span class="muted">({r.count})</span>
                </li>
              ))}
            </ol>
          )}
          <h2>Namespaces</h2>
          <ul class="chips">
            {Object.entries(s.byNamespace)
              .sort((a, b) => b[1] - a[1])
              .slice(0, 30)
              .map(([ns, n]) => (
                <li key={ns}>
                  <a href={hrefs.findings({ namespace: ns })}>
                    {ns} <span class="muted">{fmtNum(n)}</span>
                  </a>
                </li>
              ))}
          </ul>
        </section>
      </div>
    </>
  );
}

// ---- findings list ---------------------------------------------------------------------------------------------

const FILTERS = ['q', 'severity', 'source', 'namespace', 'kind', 'phase', 'since', 'sort'] as const;

function FindingsTable({ items, fresh }: { items: Item[]; fresh?: ReadonlySet<string> }) {
  return (
    <table class="findings">
      <thead>
        <tr>
          <th scope="col">Severity</th>
          <th scope="col">Finding</th>
          <th scope="col">Source</th>
          <th scope="col">Resource</th>
          <th scope="col">Namespace</th>
          <th scope="col">Detected</th>
          <th scope="col">Phase</th>
        </tr>
      </thead>
      <tbody>
        {items.map((i) => (
          <tr
            key={`${i.namespace}/${i.name}`}
            class={fresh?.has(`${i.namespace}/${i.name}`) ? 'fresh' : undefined}
            data-name={i.name}
          >
            <td>
              <Sev s={i.severity} />
            </td>
            <td>
              <a href={hrefs.finding(i)}>{i.title || i.name}</a>
            </td>
            <td>{i.source}</td>
            <td>
              <ResourceLink r={i.resource} ns={i.namespace} />
            </td>
            <td>{i.namespace}</td>
            <td>
              <time dateTime={i.detectedAt}>{fmtTime(i.detectedAt)}</time>
            </td>
            <td>{i.phase}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Findings({ route, onToken }: { route: Route; onToken: () => void }) {
  const params = Object.fromEntries(FILTERS.map((k) => [k, route.params.get(k) ?? undefined]));
  const cursor = route.params.get('cursor') ?? undefined;
  const key = route.params.toString();
  const { data, error } = useApi<Page>('observations', { ...params, cursor, limit: '50' }, [key]);
  const summary = useApi<Summary>('summary', {}, []);
  const [live, setLive] = useState<Item[]>([]);
  const [connected, setConnected] = useState(false);
  const [q, setQ] = useState(params.q ?? '');
  useEffect(() => {
    setLive([]);
    setQ(params.q ?? '');
    if (cursor) return; // new findings show on the first page only
    const ac = new AbortController();
    const { sort: _s, ...streamParams } = params;
    void stream(
      streamParams,
      (ev) => {
        if (ev.type !== 'upsert') return;
        setLive((l) =>
          [ev.item, ...l.filter((x) => x.name !== ev.item.name || x.namespace !== ev.item.namespace)].slice(0, 200),
        );
      },
      setConnected,
      ac.signal,
    );
    return () => ac.abort();
  }, [key]);

  const go = (patch: Record<string, string | undefined>) => {
    const next: Record<string, string | undefined> = { ...params, ...patch };
    location.hash = hrefs.findings(next);
  };
  const sources = Object.keys(summary.data?.bySource ?? {}).sort();
  const namespaces = Object.keys(summary.data?.byNamespace ?? {}).sort();
  const items = useMemo(() => {
    if (!data) return [];
    const seen = new Set(live.map((i) => `${i.namespace}/${i.name}`));
    return [...live, ...data.items.filter((i) => !seen.has(`${i.namespace}/${i.name}`))];
  }, [data, live]);
  const fresh = useMemo(() => new Set(live.map((i) => `${i.namespace}/${i.name}`)), [live]);
  const select = (name: string, label: string, options: (string | [string, string])[]) => (
    <label>
      {label}
      <select
        name={name}
        value={params[name] ?? ''}
        onChange={(e) => go({ [name]: (e.target as HTMLSelectElement).value || undefined })}
      >
        <option value="">{name === 'sort' ? 'newest first' : 'any'}</option>
        {options.map((o) => {
          const [value, text] = Array.isArray(o) ? o : [o, o];
          return (
            <option key={value} value={value}>
              {text}
            </option>
          );
        })}
      </select>
    </label>
  );
  return (
    <>
      <h1>Findings</h1>
      <search>
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            go({ q: q || undefined });
          }}
        >
          <label>
            Search
            <input
              type="search"
              name="q"
              value={q}
              onInput={(e) => setQ((e.target as HTMLInputElement).value)}
              placeholder="title, resource, message"
            />
          </label>
          {select('severity', 'Severity', [...SEVERITIES])}
          {select('source', 'Source', sources)}
          {select('namespace', 'Namespace', namespaces)}
          {select('phase', 'Phase', ['Active', 'Resolved'])}
          {select('since', 'Detected in', ['1h', '24h', '7d'])}
          {select('sort', 'Order', ['-detectedAt', 'detectedAt', '-severity', 'severity'])}
          <button type="submit">Search</button>
          {route.params.size ? (
            <a class="button" href={hrefs.findings()}>
              Clear
            </a>
          ) : null}
        </form>
      </search>
      <p class="status" aria-live="polite">
        {data ? (
          <span data-testid="total">
            {fmtNum(data.total + live.filter((i) => !data.items.some((d) => d.name === i.name)).length)}
          </span>
        ) : (
          '…'
        )}{' '}
        matching · <span class={connected ? 'live on' : 'live'}>{connected ? 'live' : 'not live'}</span>
      </p>
      {error ? <ErrorBox error={error} onToken={onToken} /> : null}
      {data ? <FindingsTable items={items} fresh={fresh} /> : <p aria-busy="true">Loading…</p>}
      <nav class="pager" aria-label="Pages">
        {cursor ? (
          <button type="button" onClick={() => history.back()}>
            ← Previous
          </button>
        ) : null}
        {data?.next ? (
          <a class="button" href={hrefs.findings({ ...params, cursor: data.next })}>
            Next →
          </a>
        ) : null}
      </nav>
    </>
  );
}

// ---- resource --------------------------------------------------------------------------------------------------

function Resource({ route, onToken }: { route: Route; onToken: () => void }) {
  const [namespace = '', kind = '', name = ''] = route.parts;
  const path = `resources/${enc(namespace)}/${enc(kind)}/${enc(name)}`;
  const { data, error } = useApi<ResourceView>(path, {}, []);
  if (error) return <ErrorBox error={error} onToken={onToken} />;
  if (!data) return <p aria-busy="true">Loading…</p>;
  const others = data.related.filter((r) => !(r.kind === kind && r.name === name));
  return (
    <>
      <p class="crumbs">
        {[...data.owners].reverse().map((o) => (
          <span key={`${o.kind}/${o.name}`}>
            <a href={hrefs.resource(o)}>
              {o.kind}/{o.name}
            </a>{' '}
            ›{' '}
          </span>
        ))}
        <span aria-current="page">
          {kind}/{name}
        </span>
      </p>
      <h1>
        {kind}{' '}
        <span class="mono">
          {namespace}/{name}
        </span>
      </h1>
      <section class="cards" aria-label="Findings by source">
        {Object.entries(data.bySource).map(([src, n]) => (
          <div class="card" key={src} data-testid={`source-${src}`}>
            <span class="n">{n}</span> {src}
          </div>
        ))}
        {SEVERITIES.filter((s) => data.bySeverity[s]).map((s) => (
          <div class={`card card-${s}`} key={s}>
            <span class="n">{data.bySeverity[s]}</span> {s}
          </div>
        ))}
      </section>
      {others.length ? (
        <p>
          Includes findings about{' '}
          {others.map((r, i) => (
            <span key={`${r.kind}/${r.name}`}>
              {i ? ', ' : ''}
              <a href={hrefs.resource(r)}>
                {r.kind}/{r.name}
              </a>
            </span>
          ))}
          .
        </p>
      ) : null}
      {data.items.length ? <FindingsTable items={data.items} /> : <p>No findings about this object.</p>}
    </>
  );
}

// ---- detail ----------------------------------------------------------------------------------------------------

function Finding({ route, onToken }: { route: Route; onToken: () => void }) {
  const [namespace = '', name = ''] = route.parts;
  const { data, error } = useApi<Detail>(`observations/${enc(namespace)}/${enc(name)}`, {}, []);
  if (error) return <ErrorBox error={error} onToken={onToken} />;
  if (!data) return <p aria-busy="true">Loading…</p>;
  const i = data.item;
  const details = data.observation.spec?.details;
  return (
    <>
      <h1>
        <Sev s={i.severity} /> {i.title}
      </h1>
      {i.message ? <p class="message">{i.message}</p> : null}
      <dl class="facts">
        <dt>Source</dt>
        <dd>
          <a href={hrefs.findings({ source: i.source })}>{i.source}</a> ({i.eventType}, {i.category})
        </dd>
        <dt>Resource</dt>
        <dd>
          <ResourceLink r={i.resource} ns={i.namespace} />
          {data.owners.length ? (
            <>
              {' '}
              owned by{' '}
              {data.owners.map((o, n) => (
                <span key={o.name}>
                  {n ? ' › ' : ''}
                  <a href={hrefs.resource(o)}>
                    {o.kind}/{o.name}
                  </a>
                </span>
              ))}
            </>
          ) : null}
        </dd>
        <dt>Observation</dt>
        <dd class="mono">
          {i.namespace}/{i.name}
        </dd>
        <dt>Seen</dt>
        <dd data-testid="occurrences">
          {fmtNum(data.occurrences.count)} time{data.occurrences.count === 1 ? '' : 's'}
          {data.occurrences.observations > 1 ? ` (in ${data.occurrences.observations} Observations)` : ''}; first{' '}
          {fmtTime(data.occurrences.firstSeen)}, last {fmtTime(data.occurrences.lastSeen)}
        </dd>
        <dt>Status</dt>
        <dd>
          {i.phase}
          {i.resolvedAt ? ` since ${fmtTime(i.resolvedAt)}` : ''}
          {i.reason ? ` (${i.reason})` : ''}
        </dd>
      </dl>
      <h2>Details</h2>
      {details ? <pre class="details">{JSON.stringify(details, null, 2)}</pre> : <p class="muted">None.</p>}
    </>
  );
}

// ---- app -------------------------------------------------------------------------------------------------------

function App() {
  const route = useRoute();
  const [askToken, setAskToken] = useState(false);
  const [epoch, setEpoch] = useState(0);
  const who = useApi<{ user: string; mode: string; namespaces: 'all' | string[] }>('whoami', {}, [epoch]);
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // After a navigation, focus moves to the new content (screen readers announce it); not on the first load.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus({ preventScroll: true });
    scrollTo(0, 0);
  }, [route.view, route.parts.join('/')]);
  const onToken = useCallback(() => setAskToken(true), []);
  const nav = (view: Route['view'], href: string, label: string) => (
    <a href={href} aria-current={route.view === view ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <>
      <header>
        <span class="brand">zen-watcher</span>
        <nav aria-label="Main">
          {nav('overview', '#/', 'Overview')}
          {nav('findings', '#/findings', 'Findings')}
        </nav>
        <span class="who">
          {who.data ? `${who.data.user} · ${who.data.mode}` : ''}{' '}
          <button type="button" class="link" onClick={onToken}>
            Token
          </button>
        </span>
      </header>
      {askToken ? (
        <TokenForm
          onDone={() => {
            setAskToken(false);
            setEpoch((e) => e + 1);
          }}
        />
      ) : null}
      <main id="main" tabIndex={-1} ref={main} key={`${epoch}`}>
        {route.view === 'overview' ? <Overview onToken={onToken} /> : null}
        {route.view === 'findings' ? <Findings route={route} onToken={onToken} /> : null}
        {route.view === 'resource' ? <Resource route={route} onToken={onToken} key={route.parts.join('/')} /> : null}
        {route.view === 'finding' ? <Finding route={route} onToken={onToken} key={route.parts.join('/')} /> : null}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
