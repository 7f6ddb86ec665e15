// The agent-lanes dashboard: one page, Preact + htm (no build step of its own),
// uPlot for charts, marked + DOMPurify for Markdown. Live updates come from the
// server's `GET /events` stream (read with fetch so the bearer token can be
// sent); the page never polls the queue: it re-reads a view only when an event
// says something in it changed.

import { html, render, useEffect, useMemo, useRef, useState } from "./vendor/htm-preact.js";
import { marked } from "./vendor/marked.js";
import DOMPurify from "./vendor/purify.js";
import uPlot from "./vendor/uPlot.js";

const STATES = ["queued", "claimed", "completed", "failed"];

// ---- token ---------------------------------------------------------------------------
// A token given as `#token=...` (what `agent-lanes dashboard` prints) is kept for this tab
// only and removed from the address bar.
const TOKEN_KEY = "agent-lanes-token";
(() => {
  const match = /(?:^#|[#&])token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search + location.hash.replace(/[#&]?token=[^&]+/, "").replace(/^#?$/, ""));
  }
})();
const token = () => sessionStorage.getItem(TOKEN_KEY);
const authHeaders = () => (token() ? { authorization: `Bearer ${token()}` } : {});

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) }, cache: "no-store" });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, body.error ?? `HTTP ${res.status}`);
  return body;
}

const post = (path, body = {}) => api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

// ---- the event stream ----------------------------------------------------------------
const listeners = new Set();
let streamState = "connecting";
const statusListeners = new Set();
function setStreamState(state) {
  streamState = state;
  for (const fn of statusListeners) fn(state);
}

/** Read `GET /events` (text/event-stream) with fetch; reconnect after a drop. */
async function connectEvents() {
  for (;;) {
    try {
      const res = await fetch("/events", { headers: { ...authHeaders(), accept: "text/event-stream" }, cache: "no-store" });
      if (!res.ok) {
        setStreamState(res.status === 401 ? "token required" : `error ${res.status}`);
        await new Promise((r) => setTimeout(r, res.status === 401 ? 5000 : 2000));
        continue;
      }
      setStreamState("live");
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = "message";
          let data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) type = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (data === "") continue;
          const payload = JSON.parse(data);
          for (const fn of listeners) fn(type, payload);
        }
      }
    } catch {
      // dropped: reconnect below
    }
    setStreamState("reconnecting");
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function useEvents(fn) {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    const listener = (type, payload) => ref.current(type, payload);
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, []);
}

function useStreamState() {
  const [state, setState] = useState(streamState);
  useEffect(() => {
    statusListeners.add(setState);
    // The stream may have changed between the first render and this effect.
    setState(streamState);
    return () => statusListeners.delete(setState);
  }, []);
  return state;
}

/**
 * Load with `load()`; load again when the stream (re)opens and whenever an
 * event passes `matches`, coalescing the events of `delayMs`.
 */
function useLive(load, matches, deps = [], delayMs = 50) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const pending = useRef(null);
  const run = () =>
    load().then(
      (value) => {
        setData(value);
        setError(null);
      },
      (err) => setError(err),
    );
  useEffect(() => {
    setData(null);
    run();
  }, deps);
  useEvents((type, payload) => {
    if ((type !== "hello" && !matches(type, payload)) || pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = null;
      run();
    }, delayMs);
  });
  return [data, error, run];
}

// ---- small helpers -------------------------------------------------------------------
function age(iso, now = Date.now()) {
  if (!iso) return "";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** Time left until `iso`, in the words of age(). */
const left = (iso, now = Date.now()) => age(new Date(2 * now - Date.parse(iso)).toISOString(), now);

function useNow(everyMs = 1000) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

function Markdown({ text }) {
  const safe = useMemo(() => DOMPurify.sanitize(marked.parse(text ?? "", { async: false }), { USE_PROFILES: { html: true } }), [text]);
  return html`<div class="markdown" dangerouslySetInnerHTML=${{ __html: safe }}></div>`;
}

function ErrorLine({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.status === 401 ? "The server wants its token: enter it above." : error.message}</p>`;
}

// ---- actions -------------------------------------------------------------------------
function ActionButton({ label, path, confirmText, onDone }) {
  const [state, setState] = useState(null);
  const click = async () => {
    if (confirmText && !window.confirm(confirmText)) return;
    setState({ busy: true });
    try {
      const result = await post(path);
      setState({ ok: true });
      onDone?.(result);
    } catch (error) {
      setState({ error });
    }
  };
  return html`<span class="action">
    <button type="button" disabled=${state?.busy} onClick=${click} data-action=${label}>${label}</button>
    ${state?.error ? html`<span class="error" role="alert">${state.error.status === 401 ? "refused: token required" : state.error.message}</span>` : null}
  </span>`;
}

// ---- board ---------------------------------------------------------------------------
function Card({ task, now }) {
  const m = task.metadata ?? {};
  return html`<a class=${`card state-${task.state}`} href=${`#/task/${encodeURIComponent(task.id)}`} data-task-id=${task.id} data-state=${task.state}>
    <div class="card-title">${task.correlation_id}</div>
    <div class="card-meta">
      <span>${task.lane}</span>
      ${m.vendor ? html`<span>${m.vendor}</span>` : null}
      ${m.model ?? m.model_class ? html`<span>${m.model ?? m.model_class}</span>` : null}
      ${m.effort ? html`<span>${m.effort}</span>` : null}
      <span title=${task.created_at}>${age(task.created_at, now)}</span>
    </div>
  </a>`;
}

function Board() {
  const now = useNow(5000);
  const [summary, error] = useLive(() => api("/api/summary"), (type) => type === "task");
  if (!summary) return html`<section><h2>Board</h2><${ErrorLine} error=${error} /></section>`;
  const columns = [
    ["queued", summary.cards.queued],
    ["claimed", summary.cards.claimed],
    ["finished", summary.cards.recent],
  ];
  return html`<section class="board">
    <h2>Board <small>${summary.total} tasks</small></h2>
    <${ErrorLine} error=${error} />
    <table class="counts" data-testid="counts">
      <thead><tr><th>lane</th>${STATES.map((s) => html`<th>${s}</th>`)}</tr></thead>
      <tbody>
        ${summary.lanes.map(
          (lane) => html`<tr data-lane=${lane}><th>${lane}</th>${STATES.map((s) => html`<td data-state=${s}>${summary.counts[lane]?.[s] ?? 0}</td>`)}</tr>`,
        )}
      </tbody>
    </table>
    <div class="columns">
      ${columns.map(
        ([name, tasks]) => html`<div class="column" data-column=${name}>
          <h3>${name} <small>${tasks.length}</small></h3>
          ${tasks.map((task) => html`<${Card} key=${task.id} task=${task} now=${now} />`)}
        </div>`,
      )}
    </div>
  </section>`;
}

function Runs() {
  const now = useNow(1000);
  const [data, error] = useLive(() => api("/api/runs"), (type) => type === "task" || type === "dispatcher");
  const runs = data?.runs ?? [];
  return html`<section class="runs">
    <h2>Running agents <small>${runs.length}</small></h2>
    <${ErrorLine} error=${error} />
    ${runs.length === 0
      ? html`<p class="quiet">No task is claimed.</p>`
      : html`<table data-testid="runs">
          <thead><tr><th>task</th><th>owner</th><th>elapsed</th><th>lease ends in</th><th>attempt</th><th>tokens</th><th>cost</th><th></th></tr></thead>
          <tbody>
            ${runs.map(
              (run) => html`<tr key=${run.task_id}>
                <td><a href=${`#/task/${encodeURIComponent(run.task_id)}`}>${run.correlation_id}</a></td>
                <td>${run.owner}</td>
                <td>${age(run.claimed_at, now)}</td>
                <td class=${run.lease_expires_at && Date.parse(run.lease_expires_at) < now ? "error" : ""}>
                  ${run.lease_expires_at ? (Date.parse(run.lease_expires_at) < now ? "expired" : left(run.lease_expires_at, now)) : ""}
                </td>
                <td>${run.attempt}</td>
                <td>${run.tokens ?? "–"}</td>
                <td>${run.cost_usd == null ? "–" : `$${run.cost_usd.toFixed(2)}`}</td>
                <td><${ActionButton} label="release" path=${`/api/tasks/${encodeURIComponent(run.task_id)}/release`} confirmText="Hand this task back to the queue?" /></td>
              </tr>`,
            )}
          </tbody>
        </table>`}
  </section>`;
}

function Pauses() {
  const now = useNow(1000);
  const [data, error, reload] = useLive(() => api("/api/pauses"), (type) => type === "pause");
  const pauses = (data?.pauses ?? []).filter((p) => Date.parse(p.until) > now);
  return html`<section class="pauses">
    <h2>Vendor pauses <small>${pauses.length}</small></h2>
    <${ErrorLine} error=${error} />
    ${pauses.length === 0
      ? html`<p class="quiet">Every vendor is claiming.</p>`
      : html`<ul>
          ${pauses.map(
            (p) => html`<li key=${p.vendor} data-vendor=${p.vendor}>
              <strong>${p.vendor}</strong> <span class="kind">${p.kind}</span>
              resumes in <span class="countdown">${left(p.until, now)}</span>
              <span class="reason">${p.reason}</span>
              <${ActionButton} label="resume now" path=${`/api/pauses/${encodeURIComponent(p.vendor)}/clear`} onDone=${reload} />
            </li>`,
          )}
        </ul>`}
  </section>`;
}

// ---- charts --------------------------------------------------------------------------
const PALETTE = ["#3b82f6", "#ef4444", "#10b981", "#f59e0b", "#8b5cf6", "#ec4899", "#14b8a6"];

/** One uPlot chart; `labels` makes the x axis categorical (a histogram's buckets). */
function Chart({ title, data, series, bars = false, labels = null, testId }) {
  const box = useRef(null);
  useEffect(() => {
    if (!box.current || !data) return undefined;
    const width = Math.max(300, box.current.clientWidth || 600);
    const opts = {
      title,
      width,
      height: 200,
      scales: { x: labels ? { time: false, distr: 2 } : { time: true } },
      series: [
        labels ? { value: (_u, i) => labels[i] ?? "" } : {},
        ...series.map((label, i) => ({
          label,
          stroke: PALETTE[i % PALETTE.length],
          fill: `${PALETTE[i % PALETTE.length]}33`,
          ...(bars ? { paths: uPlot.paths.bars({ size: [0.8] }), points: { show: false } } : {}),
        })),
      ],
      axes: [labels ? { values: (_u, splits) => splits.map((i) => labels[i] ?? "") } : {}, {}],
    };
    const plot = new uPlot(opts, data, box.current);
    return () => plot.destroy();
  }, [data]);
  // What the chart holds, for people reading the page's source and for the browser test: the series and their sum.
  const total = data ? data.slice(1).reduce((sum, row) => sum + row.reduce((a, b) => a + (b ?? 0), 0), 0) : 0;
  return html`<div class="chart" data-chart=${testId} data-series=${series.join(",")} data-total=${String(Math.round(total * 1e6) / 1e6)} ref=${box}></div>`;
}

/** The x values and one row per key of `rows` ({x, values: {key: n}}). */
function columnsOf(rows, keys) {
  return [rows.map((r) => r.t), ...keys.map((k) => rows.map((r) => r.values[k] ?? 0))];
}

function Charts() {
  // Charts cover two weeks: one re-read per second of activity is plenty.
  const [stats, error] = useLive(() => api("/api/stats"), (type) => type === "task", [], 1000);
  if (!stats) return html`<section class="charts"><h2>Last 14 days</h2><${ErrorLine} error=${error} /></section>`;
  const vendors = stats.vendors.length > 0 ? stats.vendors : ["(none)"];
  const histogram = (buckets) => [buckets.map((_, i) => i), buckets.map((b) => b.count)];
  return html`<section class="charts">
    <h2>Last 14 days</h2>
    <div class="chart-grid">
      <${Chart} testId="tasks-per-hour" title="Tasks finished per hour, by vendor" data=${columnsOf(stats.hours, vendors)} series=${vendors} />
      <${Chart} testId="cost-per-day" title="Cost per day (USD), by vendor" data=${columnsOf(stats.days, vendors)} series=${vendors} bars=${true} />
      <${Chart} testId="wait-times" title="Wait (submit → claim)" data=${histogram(stats.wait)} series=${["tasks"]} bars=${true} labels=${stats.wait.map((b) => b.label)} />
      <${Chart} testId="run-times" title="Run time (claim → answer)" data=${histogram(stats.run)} series=${["tasks"]} bars=${true} labels=${stats.run.map((b) => b.label)} />
    </div>
  </section>`;
}

// ---- task page -----------------------------------------------------------------------
/** A task file's URL on this server (the file is named by its field, never by its path). */
const fileUrl = (id, which) => `/api/tasks/${encodeURIComponent(id)}/files/${encodeURIComponent(which)}`;

/** Fetch one of the task's files as text (with the token); errors come back as the server's one line. */
async function fetchFile(id, which) {
  const res = await fetch(fileUrl(id, which), { headers: authHeaders(), cache: "no-store" });
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new ApiError(res.status, body.error ?? `HTTP ${res.status}`);
  }
  return { text: await res.text(), truncated: res.headers.get("x-truncated") === "true" };
}

/** A file path as a link: opening it shows the file's content below the facts (fetched with the token, shown as text). */
function FileLink({ id, which, path, onOpen }) {
  return html`<a class="file-link" data-file=${which} href=${fileUrl(id, which)} onClick=${(e) => {
    e.preventDefault();
    onOpen(which, path);
  }}><code>${path}</code></a>`;
}

function FileView({ shown, onClose }) {
  if (!shown) return null;
  return html`<section class="file-view" data-testid="file-view" data-file=${shown.which}>
    <h3>${shown.path} <button type="button" onClick=${onClose}>close</button></h3>
    ${shown.error
      ? html`<p class="error" role="alert">${shown.error.status === 401 ? "refused: token required" : shown.error.message}</p>`
      : shown.text === null
        ? html`<p class="quiet">loading…</p>`
        : html`<pre class="file-content" data-testid="file-content">${shown.text}</pre>${shown.truncated ? html`<p class="quiet">(truncated)</p>` : null}`}
  </section>`;
}

function TaskPage({ id }) {
  const [shown, setShown] = useState(null);
  const [detail, error, reload] = useLive(() => api(`/api/tasks/${encodeURIComponent(id)}`), (type, p) => type === "task" && p.id === id, [id]);
  if (!detail) return html`<section><a href="#/">← board</a><${ErrorLine} error=${error} /></section>`;
  const { task, response, events, request } = detail;
  const open = (which, path) => {
    setShown({ which, path, text: null });
    fetchFile(task.id, which).then(
      (file) => setShown({ which, path, ...file }),
      (error) => setShown({ which, path, text: null, error }),
    );
  };
  const attempts = events.filter((e) => e.type === "claimed").length;
  return html`<section class="task" data-task-id=${task.id} data-state=${task.state}>
    <a href="#/">← board</a>
    <h2>${task.correlation_id} <span class=${`badge state-${task.state}`} data-testid="task-state">${task.state}</span></h2>
    <${ErrorLine} error=${error} />
    <dl class="facts">
      <dt>id</dt><dd>${task.id}</dd>
      <dt>lane</dt><dd>${task.lane}</dd>
      <dt>from</dt><dd>${task.source_agent}</dd>
      <dt>attempts</dt><dd>${attempts}</dd>
      ${response ? html`<dt>verdict</dt><dd data-testid="verdict">${response.verdict ?? "–"} (blocking ${response.blocking_count}, non-blocking ${response.nonblocking_count})</dd>` : null}
      ${task.failure_reason ? html`<dt>failure</dt><dd class="error">${task.failure_reason}</dd>` : null}
      <dt>request file</dt><dd><${FileLink} id=${task.id} which="request" path=${task.request_path} onOpen=${open} /></dd>
      <dt>response file</dt><dd><${FileLink} id=${task.id} which="response" path=${task.response_path} onOpen=${open} /></dd>
      ${(task.supporting_paths ?? []).length > 0
        ? html`<dt>supporting files</dt><dd>${task.supporting_paths.map((p, i) => html`<div key=${i}><${FileLink} id=${task.id} which=${`supporting-${i}`} path=${p.path} onOpen=${open} /></div>`)}</dd>`
        : null}
      ${task.worktree_path ? html`<dt>worktree</dt><dd><code>${task.worktree_path}</code></dd>` : null}
    </dl>
    <${FileView} shown=${shown} onClose=${() => setShown(null)} />
    <div class="task-actions">
      ${task.state === "queued" ? html`<${ActionButton} label="cancel" path=${`/api/tasks/${encodeURIComponent(task.id)}/cancel`} confirmText="Cancel this task? It is answered as failed." onDone=${reload} />` : null}
      ${task.state === "claimed" ? html`<${ActionButton} label="release" path=${`/api/tasks/${encodeURIComponent(task.id)}/release`} onDone=${reload} />` : null}
      ${task.state === "failed" ? html`<${ActionButton} label="retry" path=${`/api/tasks/${encodeURIComponent(task.id)}/retry`} onDone=${(r) => (location.hash = `#/task/${encodeURIComponent(r.task.id)}`)} />` : null}
    </div>
    ${task.prompt ? html`<h3>Prompt</h3><${Markdown} text=${task.prompt} />` : null}
    <h3>Request</h3>
    ${request?.text != null ? html`<${Markdown} text=${request.text} />${request.truncated ? html`<p class="quiet">(truncated)</p>` : null}` : html`<p class="quiet">${request?.error ?? "not readable"}</p>`}
    <h3>${response?.status === "failed" ? "Failure (what ended the run, the tail of stderr)" : "Response"}</h3>
    ${!response
      ? html`<p class="quiet">No response yet.</p>`
      : response.status === "failed"
        ? html`<pre class="failure" data-testid="response">${response.body}</pre>`
        : html`<div data-testid="response"><${Markdown} text=${response.body} /></div>`}
    <h3>Events</h3>
    <ol class="timeline" data-testid="timeline">
      ${events.map((e) => html`<li data-type=${e.type}><time>${e.created_at}</time> <strong>${e.type}</strong> ${e.message}</li>`)}
    </ol>
  </section>`;
}

// ---- shell ---------------------------------------------------------------------------
function TokenBox() {
  const [value, setValue] = useState("");
  const [saved, setSaved] = useState(Boolean(token()));
  const save = (event) => {
    event.preventDefault();
    if (value.trim()) sessionStorage.setItem(TOKEN_KEY, value.trim());
    else sessionStorage.removeItem(TOKEN_KEY);
    setSaved(Boolean(value.trim()));
    location.reload();
  };
  return html`<form class="token" onSubmit=${save}>
    <input type="password" placeholder=${saved ? "token set for this tab" : "token (if the server has one)"} value=${value} onInput=${(e) => setValue(e.target.value)} aria-label="token" />
    <button type="submit">${saved ? "change" : "use"}</button>
  </form>`;
}

function useRoute() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  const match = /^#\/task\/(.+)$/.exec(hash);
  return match ? { page: "task", id: decodeURIComponent(match[1]) } : { page: "board" };
}

function App() {
  const route = useRoute();
  const stream = useStreamState();
  return html`<div class="app">
    <header>
      <h1><a href="#/">agent-lanes</a></h1>
      <span class=${`stream stream-${stream.replace(/\s+/g, "-")}`} data-testid="stream">${stream}</span>
      <${TokenBox} />
    </header>
    ${route.page === "task"
      ? html`<${TaskPage} id=${route.id} />`
      : html`<main>
          <${Pauses} />
          <${Runs} />
          <${Board} />
          <${Charts} />
        </main>`}
  </div>`;
}

render(html`<${App} />`, document.getElementById("app"));
void connectEvents();
