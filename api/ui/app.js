// The fleet page: what is broken right now, and what mend is doing about it.
// preact + htm as ES modules (no build step). It reads GET /v1/fleet every few seconds (one request
// for everything shown) and acts through the same /v1 routes and roles as the CLI. The token is
// pasted once and kept in sessionStorage (gone when the tab closes); it is only ever sent in the
// Authorization header, never in a URL.
import { Component, h, render } from '/ui/vendor/preact.mjs';
import htm from '/ui/vendor/htm.mjs';

const html = htm.bind(h);
const TOKEN_KEY = 'mend.token';
/** Often enough to see a restart happen; each refresh is one request. */
const REFRESH_MS = 2000;
const STRATEGIES = ['immediate', 'progressive', 'dependency-aware', 'state-recovery', 'emergency-reset'];
const ROLE_RANK = { viewer: 0, operator: 1, admin: 2 };

/** An API call with the token; a non-2xx answer throws the API's own one-line message. */
async function api(token, method, path, body) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const err = new Error(`${res.status}: ${data?.message ?? (text || res.statusText)}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

const runPath = (workflowId) => `/v1/runs/${encodeURIComponent(workflowId)}`;

function duration(ms) {
  if (ms === undefined || ms === null) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

const ago = (iso, now) => (iso ? duration(Math.max(0, now - Date.parse(iso))) : undefined);
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '–');

/** A run, linked to its page in the Temporal Web UI. */
function RunLink({ run, label }) {
  return html`<a class="run" href=${run.url} target="_blank" rel="noopener noreferrer">${label ?? run.workflowId}</a>`;
}

/** Recoveries per hour over the last 24 h: 24 bars, the newest on the right. */
function Sparkline({ counts }) {
  const total = counts.reduce((a, b) => a + b, 0);
  const max = Math.max(1, ...counts);
  const label = `${total} ${total === 1 ? 'recovery' : 'recoveries'} in the last 24 hours`;
  return html`<svg class="spark" viewBox="0 0 96 20" width="96" height="20" role="img" aria-label=${label}>
    <title>${label}</title>
    <line x1="0" y1="19.5" x2="96" y2="19.5" class="axis" />
    ${counts.map((n, i) => (n > 0 ? html`<rect x=${i * 4} y=${20 - (n / max) * 18} width="3" height=${(n / max) * 18} />` : null))}
  </svg>`;
}

function Health({ c, now }) {
  const since = ago(c.since, now);
  return html`<span class=${`badge ${c.health}`}>${c.health}</span>${since ? html` <span class="muted">for ${since}</span>` : null}
    ${c.lastFailureClass && c.health !== 'healthy' ? html`<div class="muted">${c.lastFailureClass}${c.lastDetail ? `: ${c.lastDetail}` : ''}</div>` : null}`;
}

function Breaker({ c }) {
  if (!c.breaker) return '–';
  return html`<span class=${`badge breaker-${c.breaker.state}`}>${c.breaker.state}</span>
    ${c.breaker.reason && c.breaker.state !== 'closed' ? html`<div class="muted">${c.breaker.reason}</div>` : null}`;
}

function ComponentsTable({ fleet, now, can, act, openRecover }) {
  return html`<table>
    <caption>
      Every configured component, its supervisor and its recoveries
    </caption>
    <thead>
      <tr>
        <th scope="col">Component</th>
        <th scope="col">Host</th>
        <th scope="col">Group</th>
        <th scope="col">Health</th>
        <th scope="col">Breaker</th>
        <th scope="col">Recovery now</th>
        <th scope="col">Last recovery</th>
        <th scope="col">MTTR p50 / p95</th>
        <th scope="col">Last 24 h</th>
        ${can.any ? html`<th scope="col">Actions</th>` : null}
      </tr>
    </thead>
    <tbody>
      ${fleet.components.map(
        (c) =>
          html`<tr data-component=${c.id} key=${c.id}>
            <th scope="row">${c.id}${c.supervisor?.paused ? html` <span class="badge paused">paused</span>` : null}</th>
            <td>${c.host}</td>
            <td>${c.supervised ? c.group : html`<span class="muted">not supervised</span>`}</td>
            <td class="health"><${Health} c=${c} now=${now} /></td>
            <td class="breaker"><${Breaker} c=${c} /></td>
            <td class="current">
              ${
                c.current
                  ? html`<${RunLink} run=${c.current} label=${c.current.strategy ?? 'recovery'} /> <span class="muted">${c.current.phase ?? 'starting'}</span>`
                  : '–'
              }
            </td>
            <td class="last">
              ${
                c.last
                  ? html`<${RunLink} run=${c.last} label=${c.last.outcome ?? 'ended'} />${' '}
                      <span class="muted">${c.last.mttrMs !== undefined ? `in ${duration(c.last.mttrMs)} ` : ''}at ${time(c.last.endedAt)}</span>`
                  : '–'
              }
            </td>
            <td>${duration(c.mttrP50Ms)} / ${duration(c.mttrP95Ms)}</td>
            <td><${Sparkline} counts=${c.recoveries24h} /></td>
            ${
              can.any
                ? html`<td class="actions">
                    ${
                      can.operate(c.id)
                        ? html`<button
                              type="button"
                              aria-label=${`Check ${c.id} now`}
                              onClick=${() => act(`check ${c.id}`, 'POST', `/v1/components/${c.id}/check`)}
                            >
                              Check
                            </button>
                            <button type="button" aria-label=${`Recover ${c.id}…`} onClick=${() => openRecover(c)}>Recover…</button>
                            ${
                              c.supervisor
                                ? c.supervisor.paused
                                  ? html`<button
                                      type="button"
                                      aria-label=${`Resume supervisor of ${c.id}`}
                                      onClick=${() => act(`resume ${c.id}'s supervisor`, 'POST', `${runPath(c.supervisor.workflowId)}/resume`, {})}
                                    >
                                      Resume
                                    </button>`
                                  : html`<button
                                      type="button"
                                      aria-label=${`Pause supervisor of ${c.id}`}
                                      onClick=${() => act(`pause ${c.id}'s supervisor`, 'POST', `${runPath(c.supervisor.workflowId)}/pause`, { withReason: true })}
                                    >
                                      Pause
                                    </button>`
                                : null
                            }
                            ${
                              c.breaker && c.breaker.state !== 'closed'
                                ? html`<button
                                    type="button"
                                    aria-label=${`Reset breaker of ${c.id}`}
                                    onClick=${() => act(`reset ${c.id}'s breaker`, 'POST', `/v1/components/${c.id}/breaker/reset`, { reason: true })}
                                  >
                                    Reset breaker
                                  </button>`
                                : null
                            }`
                        : html`<span class="muted">out of scope</span>`
                    }
                  </td>`
                : null
            }
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function Attention({ fleet, can, act, now }) {
  const { approvals, needsAttention, openBreakers } = fleet.attention;
  if (approvals.length + needsAttention.length + openBreakers.length === 0) return html`<p>Nothing waits for a human.</p>`;
  return html`<ul class="attention">
    ${approvals.map(
      (a) =>
        html`<li key=${a.workflowId} data-approval=${a.workflowId}>
          <strong>Waiting for approval:</strong> <${RunLink} run=${a} /> (${a.strategy} of ${a.components.join(', ')})
          ${a.deadline ? html`<span class="muted"> gives up in ${duration(Date.parse(a.deadline) - now)}</span>` : null}
          ${
            can.approve(a.components)
              ? html` <button
                    type="button"
                    aria-label=${`Approve ${a.workflowId}`}
                    onClick=${() => act(`approve ${a.workflowId}`, 'POST', `${runPath(a.workflowId)}/approve`, { approve: true })}
                  >
                    Approve
                  </button>
                  <button
                    type="button"
                    aria-label=${`Reject ${a.workflowId}`}
                    onClick=${() => act(`reject ${a.workflowId}`, 'POST', `${runPath(a.workflowId)}/approve`, { approve: false })}
                  >
                    Reject
                  </button>`
              : null
          }
        </li>`,
    )}
    ${needsAttention.map(
      (r) =>
        html`<li key=${r.workflowId + r.runId}>
          <strong>Needs attention:</strong> <${RunLink} run=${r} /> (${r.strategy ?? 'run'}${r.components.length ? ` of ${r.components.join(', ')}` : ''}),
          ended ${time(r.closeTime)}
        </li>`,
    )}
    ${openBreakers.map(
      (b) =>
        html`<li key=${`breaker-${b.component}`}>
          <strong>Breaker ${b.state}:</strong> ${b.component}${b.reason ? ` (${b.reason})` : ''}${b.halfOpenAt ? `; half-open at ${time(b.halfOpenAt)}` : ''}
        </li>`,
    )}
  </ul>`;
}

function Hosts({ hosts, now }) {
  return html`<table>
    <caption>
      Hosts and their agents
    </caption>
    <thead>
      <tr>
        <th scope="col">Host</th>
        <th scope="col">Agent</th>
        <th scope="col">Last seen</th>
        <th scope="col">Version</th>
        <th scope="col">Components</th>
      </tr>
    </thead>
    <tbody>
      ${hosts.map(
        (x) =>
          html`<tr key=${x.id} data-host=${x.id}>
            <th scope="row">${x.id}${x.default ? html` <span class="muted">(default)</span>` : null}</th>
            <td><span class=${`badge ${x.agent === 'up' ? 'healthy' : 'unhealthy'}`}>${x.agent}</span></td>
            <td>${x.lastSeen ? `${ago(x.lastSeen, now)} ago` : '–'}</td>
            <td>${x.version ?? '–'}</td>
            <td>${x.components}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function Spools({ spools }) {
  if (spools.length === 0) return html`<p>No backlog spools are configured.</p>`;
  return html`<table>
    <caption>
      Backlog spools
    </caption>
    <thead>
      <tr>
        <th scope="col">Spool</th>
        <th scope="col">State</th>
        <th scope="col">Sink</th>
        <th scope="col">Pending</th>
        <th scope="col">Failed</th>
        <th scope="col">Delivered last hour</th>
        <th scope="col">Next cycle</th>
      </tr>
    </thead>
    <tbody>
      ${spools.map(({ spool, running, status: s, unanswered }) =>
        !running || !s
          ? html`<tr key=${spool}>
              <th scope="row">${spool}</th>
              <td colspan="6">
                ${
                  running
                    ? // Running, but its replay entity did not answer within the read's wait (GET /v1/fleet's `unanswered`).
                      html`<span title=${unanswered ?? ''}>replay running, no answer in time (a busy worker); try again shortly</span>`
                    : 'replay not running'
                }
              </td>
            </tr>`
          : html`<tr key=${spool}>
              <th scope="row">${spool}</th>
              <td>${s.state}, ${s.activity}</td>
              <td>
                <span class=${`badge ${s.sink.healthy === null ? 'unknown' : s.sink.healthy ? 'healthy' : 'unhealthy'}`}>
                  ${s.sink.healthy === null ? 'unchecked' : s.sink.healthy ? 'healthy' : 'down'}
                </span>
              </td>
              <td>${s.counts.pending}</td>
              <td>${s.counts.failed}</td>
              <td>${s.lastHour.delivered}</td>
              <td>${time(s.nextCycleAt)}</td>
            </tr>`,
      )}
    </tbody>
  </table>`;
}

/** Recover a component: pick a strategy, preview its plan (a dry run), then start it. */
function RecoverPanel({ panel, isAdmin, set, preview, start, close }) {
  const strategies = STRATEGIES.filter((s) => s !== 'emergency-reset' || isAdmin);
  return html`<section class="panel" aria-labelledby="recover-heading">
    <h2 id="recover-heading">Recover ${panel.component}</h2>
    <label for="strategy">Strategy</label>
    <select id="strategy" value=${panel.strategy} onChange=${(e) => set({ strategy: e.currentTarget.value, plan: undefined })}>
      ${strategies.map((s) => html`<option value=${s}>${s}</option>`)}
    </select>
    <button type="button" onClick=${preview} disabled=${panel.busy}>Preview plan</button>
    <button type="button" class="primary" onClick=${start} disabled=${panel.busy}>Recover now</button>
    <button type="button" onClick=${close}>Close</button>
    ${
      panel.plan
        ? html`<h3>Plan (dry run)</h3>
            <ol class="plan">
              ${panel.plan.map((s) => html`<li>${s.summary}${s.component ? html` <span class="muted">(${s.component})</span>` : null}</li>`)}
            </ol>`
        : null
    }
  </section>`;
}

function TokenForm({ onToken, error }) {
  const submit = (e) => {
    e.preventDefault();
    const value = e.currentTarget.elements.token.value.trim();
    if (value) onToken(value);
  };
  return html`<main>
    <h1>mend fleet</h1>
    <form onSubmit=${submit} class="token">
      <p>Paste an API token (MEND_TOKENS). It is kept in this tab's session storage only.</p>
      <label for="token">API token</label>
      <input id="token" name="token" type="password" autocomplete="off" required />
      <button type="submit" class="primary">Show the fleet</button>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    </form>
  </main>`;
}

class App extends Component {
  /** Kept on the instance, not in state: preact applies setState later, and requests need the token now. */
  token = sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  state = { reason: '' };

  componentDidMount() {
    if (this.token) this.signIn(this.token);
  }

  componentWillUnmount() {
    clearTimeout(this.timer);
  }

  async signIn(token) {
    try {
      const me = await api(token, 'GET', '/v1/whoami');
      sessionStorage.setItem(TOKEN_KEY, token);
      this.token = token;
      this.setState({ me, loginError: undefined });
      await this.refresh();
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      this.token = undefined;
      this.setState({ me: undefined, loginError: err.message });
    }
  }

  signOut = () => {
    clearTimeout(this.timer);
    sessionStorage.removeItem(TOKEN_KEY);
    this.token = undefined;
    this.setState({ me: undefined, fleet: undefined });
  };

  /** One refresh, then the next one REFRESH_MS after it ends (never two at once). */
  refresh = async () => {
    clearTimeout(this.timer);
    if (!this.token) return;
    try {
      const fleet = await api(this.token, 'GET', '/v1/fleet');
      this.setState({ fleet, stale: undefined });
    } catch (err) {
      if (err.status === 401) return this.signOut();
      this.setState({ stale: err.message });
    }
    this.timer = setTimeout(this.refresh, REFRESH_MS);
  };

  /** An action through the API: its answer (or the API's error) is shown, then the page refreshes. */
  act = async (what, method, path, body) => {
    const reason = this.state.reason.trim() || undefined;
    if (body?.withReason) body = reason ? { reason } : {};
    else if (body?.reason === true) body = { reason: reason ?? 'reset from the fleet page' };
    else if (body && 'approve' in body && reason) body = { ...body, reason };
    this.setState({ notice: { text: `${what}…` } });
    try {
      const answer = await api(this.token, method, path, body);
      this.setState({ notice: { text: `${what}: ${summarize(answer)}` } });
    } catch (err) {
      this.setState({ notice: { text: `${what} failed: ${err.message}`, error: true } });
    }
    await this.refresh();
  };

  openRecover = (c) => this.setState({ panel: { component: c.id, strategy: c.policy.strategy } });
  setPanel = (patch) => this.setState({ panel: { ...this.state.panel, ...patch } });
  closePanel = () => this.setState({ panel: undefined });

  /** The plan: a dry run of the chosen strategy, read back once it has ended. */
  preview = async () => {
    const { component, strategy } = this.state.panel;
    this.setPanel({ busy: true, plan: undefined });
    try {
      const started = await api(this.token, 'POST', '/v1/runs', { components: [component], strategy, dryRun: true });
      let run;
      for (let i = 0; i < 60; i++) {
        run = await api(this.token, 'GET', runPath(started.workflowId));
        if (run.status !== 'RUNNING' && run.runId === started.runId) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      this.setPanel({ busy: false, plan: run?.result?.steps ?? [] });
      this.setState({ notice: { text: `plan of ${strategy} for ${component}: ${run?.result?.steps?.length ?? 0} steps (nothing was done)` } });
    } catch (err) {
      this.setPanel({ busy: false });
      this.setState({ notice: { text: `preview failed: ${err.message}`, error: true } });
    }
  };

  start = async () => {
    const { component, strategy } = this.state.panel;
    const reason = this.state.reason.trim() || undefined;
    this.closePanel();
    await this.act(`recover ${component} (${strategy})`, 'POST', '/v1/runs', { components: [component], strategy, ...(reason ? { reason } : {}) });
  };

  render(_props, { me, fleet, stale, notice, panel, loginError, reason }) {
    if (!me) return html`<${TokenForm} onToken=${(t) => this.signIn(t)} error=${loginError} />`;
    const rank = ROLE_RANK[me.role] ?? 0;
    const inScope = (ids) => !me.components || ids.every((id) => me.components.includes(id));
    // Buttons only for what the role may do; the API checks again (a viewer's POST is a 403 whatever the page shows).
    const can = {
      any: rank >= ROLE_RANK.operator,
      operate: (id) => rank >= ROLE_RANK.operator && inScope([id]),
      approve: (ids) => rank >= ROLE_RANK.admin && inScope(ids),
    };
    const now = fleet ? Date.parse(fleet.generatedAt) : Date.now();
    return html`<header>
        <h1>mend fleet</h1>
        <p class="who">
          ${me.name} (${me.role}) · ${fleet ? html`updated ${time(fleet.generatedAt)}` : 'loading…'}
          ${fleet ? html` · <a href=${fleet.temporalUi} target="_blank" rel="noopener noreferrer">Temporal Web UI</a>` : null}
          <button type="button" onClick=${this.signOut}>Forget token</button>
        </p>
      </header>
      <main>
        <div role="status" aria-live="polite" class=${notice?.error ? 'notice error' : 'notice'}>${notice?.text ?? ''}</div>
        ${stale ? html`<p class="error" role="alert">Not refreshed: ${stale}</p>` : null}
        ${
          can.any
            ? html`<p class="reason">
                <label for="reason">Reason recorded with your actions</label>
                <input id="reason" type="text" maxlength="500" value=${reason} onInput=${(e) => this.setState({ reason: e.currentTarget.value })} />
              </p>`
            : null
        }
        ${
          fleet
            ? html`<section aria-labelledby="attention-heading">
                  <h2 id="attention-heading">Needs a human</h2>
                  <${Attention} fleet=${fleet} can=${can} act=${this.act} now=${now} />
                </section>
                <section aria-labelledby="components-heading">
                  <h2 id="components-heading">Components</h2>
                  <${ComponentsTable} fleet=${fleet} now=${now} can=${can} act=${this.act} openRecover=${this.openRecover} />
                </section>
                ${
                  panel
                    ? html`<${RecoverPanel}
                        panel=${panel}
                        isAdmin=${rank >= ROLE_RANK.admin}
                        set=${this.setPanel}
                        preview=${this.preview}
                        start=${this.start}
                        close=${this.closePanel}
                      />`
                    : null
                }
                <section aria-labelledby="hosts-heading">
                  <h2 id="hosts-heading">Hosts</h2>
                  <${Hosts} hosts=${fleet.hosts} now=${now} />
                </section>
                <section aria-labelledby="spools-heading">
                  <h2 id="spools-heading">Backlog</h2>
                  <${Spools} spools=${fleet.spools} />
                </section>`
            : null
        }
      </main>`;
  }
}

/** One line for an action's answer. */
function summarize(answer) {
  if (!answer) return 'done';
  if (answer.runs) return `started ${answer.runs.map((r) => r.workflowId).join(', ')}`;
  if ('healthy' in answer) return `${answer.healthy ? 'healthy' : 'unhealthy'} (${answer.detail}, ${answer.latencyMs} ms)`;
  if (answer.state) return `${answer.state}${answer.by ? ` by ${answer.by}` : ''}`;
  if (answer.action) return `${answer.action} sent`;
  return 'done';
}

const root = document.getElementById('app');
root.textContent = ''; // the no-JavaScript message
render(html`<${App} />`, root);
