// The dashboard's routes (issue 15): the page and its assets at `/` (static,
// no data, served without the token), the read API the page uses
// (/api/summary, /api/tasks/:id, /api/tasks/:id/files/:which, /api/runs,
// /api/pauses, /api/stats), its
// actions (release, retry, cancel, clear a pause: POST, JSON bodies, the token
// when one is set, same-origin only through the guard) and `GET /events`,
// the Server-Sent Events stream fed by the store's change notifier.

import { existsSync, promises as fs, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { TransitionError } from "../store/errors.js";
import type { Store, Task } from "../store/types.js";
import { clearPause, listPauses } from "../supervisor/pauses.js";
import { runRecordsDir, type RunRecord } from "../supervisor/sweep.js";
import { HttpError } from "./errors.js";
import { createEventFeed, type FeedEvent } from "./event-feed.js";
import { DashboardViews, type Views } from "./dashboard-views.js";
import { FILE_HEADERS, readTaskFile } from "./task-files.js";
import type { Handler, Route, RouteDeps } from "./routes.js";
import { BODY_SCHEMAS, REPLY_SCHEMAS } from "./schemas.js";
import type { ServerLogger } from "./server.js";
import { assertAllowedRoot } from "../store/allowed-roots.js";

export interface DashboardOptions {
  deps: RouteDeps;
  addRoute(route: Route): void;
  /** Paths served without the token (the page shell and its static assets). */
  publicPaths: Set<string>;
  user: string | undefined;
  logger: ServerLogger;
  isStopping(): boolean;
  safetyPollMs: number;
}

export interface DashboardHandle {
  /** End every open event stream. */
  close(): void;
}

/** Dashboard limits, each named with its unit. */
export const DASHBOARD_DEFAULTS = {
  /** Cards per board column. @default 200 */
  maxCards: 200,
  /** Finished tasks shown as recent cards. @default 30 */
  recentCards: 30,
  /** Bytes of a request file shown on the task page. @default 256 KiB */
  maxRequestBytes: 256 * 1024,
  /** Bytes of a task file served by GET /api/tasks/:id/files/:which (a longer one is cut, with a notice). @default 1 MiB */
  maxFileBytes: 1024 * 1024,
  /** Days the charts cover. @default 14 */
  chartDays: 14,
  /** An SSE comment this often, so a dead client is noticed. @default 15000 */
  heartbeatMs: 15_000,
} as const;

/** The built front end: dist/dashboard beside dist/src (or, running from source, the repository's dist/dashboard). */
function assetRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, "../../dashboard"), path.resolve(here, "../../dist/dashboard")];
  return candidates.find((dir) => existsSync(path.join(dir, "index.html"))) ?? (candidates[0] as string);
}

const ASSET_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/** Every file the page may load, by URL: a fixed list, never a path from the request. */
const ASSETS: Record<string, string> = {
  "/": "index.html",
  "/assets/app.js": "app.js",
  "/assets/app.css": "app.css",
  "/assets/vendor/htm-preact.js": "vendor/htm-preact.js",
  "/assets/vendor/marked.js": "vendor/marked.js",
  "/assets/vendor/purify.js": "vendor/purify.js",
  "/assets/vendor/uPlot.js": "vendor/uPlot.js",
  "/assets/vendor/uPlot.css": "vendor/uPlot.css",
};

/** The page may load only its own files and talk only to its own server. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const time = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
};


/** How long the board and charts are reused while the queue reports no change. @default 30 s */
const VIEWS_MAX_AGE_MS = 30_000;

export function registerDashboard(app: FastifyInstance, options: DashboardOptions): DashboardHandle {
  const { deps, addRoute, publicPaths, logger } = options;
  const { store } = deps;
  const user = options.user ?? os.userInfo().username;
  const root = assetRoot();

  // ---- the page and its assets ----------------------------------------------------
  const cache = new Map<string, Buffer>();
  for (const [url, file] of Object.entries(ASSETS)) {
    publicPaths.add(url);
    app.get(url, async (_request, reply) => {
      let content = cache.get(file);
      if (!content) {
        try {
          content = readFileSync(path.join(root, file));
        } catch {
          throw new HttpError(404, `the dashboard is not built (${path.join(root, file)} is missing): run npm run build`);
        }
        cache.set(file, content);
      }
      void reply.header("content-type", ASSET_TYPES[path.extname(file)] ?? "application/octet-stream");
      if (file === "index.html") void reply.header("content-security-policy", CSP);
      void reply.header("x-frame-options", "DENY");
      void reply.header("referrer-policy", "no-referrer");
      return reply.send(content);
    });
  }

  // ---- read API ---------------------------------------------------------------------
  // The board and the charts come from the live tasks (a scan of queued and
  // claimed tasks) and the finished tasks' compact facts (store.finishedFacts:
  // a cache validated by file identity, or SQL aggregates), never from parsing
  // every task. Both replies are computed together and kept while the store's
  // change notifier reports no change (and for VIEWS_MAX_AGE_MS at most): the
  // page re-reads them after each event, and a quiet queue costs nothing.
  const dashboardViews = new DashboardViews(store, DASHBOARD_DEFAULTS);
  let memo: { generation: number; at: number; views: Promise<Views> } | null = null;
  const views = async (): Promise<Views> => {
    const { generation } = await store.changes();
    if (memo && memo.generation === generation && Date.now() - memo.at < VIEWS_MAX_AGE_MS) return memo.views;
    const computed = dashboardViews.compute();
    memo = { generation, at: Date.now(), views: computed };
    computed.catch(() => {
      if (memo?.views === computed) memo = null;
    });
    return computed;
  };

  const summary: Handler = async () => ({ status: 200, body: { ...(await views()).summary, generated_at: new Date().toISOString() } });

  const taskDetail: Handler = async ({ store: s, allowedRoots }, { taskId }) => {
    const task = await s.get(taskId);
    const [response, events] = await Promise.all([s.getResponse(taskId), s.readEvents(taskId)]);
    const problems: string[] = [];
    let request: Record<string, unknown>;
    try {
      // Confined as the file links are (task-files.ts): a task.json another writer edited cannot show a file outside its workspace.
      const file = await readTaskFile(s, task, "request", allowedRoots, DASHBOARD_DEFAULTS.maxRequestBytes);
      request = { text: file.content.toString("utf8"), truncated: file.truncated };
    } catch (error) {
      const reason = error instanceof HttpError ? error.message : `${task.request_path}: ${(error as NodeJS.ErrnoException).code ?? "unreadable"}`;
      request = { text: null, error: reason };
      problems.push(reason);
    }
    return { status: 200, body: { task, response, events, request, problems } };
  };

  /** One of the task's files as plain text (task-files.ts confines it); written raw, with headers that keep it inert. */
  const taskFile: Handler = async ({ store: s, allowedRoots }, { taskId, params, res }) => {
    const task = await s.get(taskId);
    const file = await readTaskFile(s, task, params.which ?? "", allowedRoots, DASHBOARD_DEFAULTS.maxFileBytes);
    const notice = file.truncated ? `\n\n[truncated by agent-lanes: the first ${file.content.length} of ${file.size} bytes are shown]\n` : "";
    res.writeHead(200, { ...FILE_HEADERS, "x-truncated": String(file.truncated), "x-file-size": String(file.size) });
    res.end(notice ? Buffer.concat([file.content, Buffer.from(notice)]) : file.content);
    return null;
  };

  const runs: Handler = async () => {
    const claimed = (await store.list({ activeOnly: true })).filter((t) => t.state === "claimed");
    const records = new Map<string, RunRecord>();
    try {
      for (const name of await fs.readdir(runRecordsDir(store.root))) {
        if (!name.endsWith(".json") || name.startsWith(".")) continue;
        try {
          const record = JSON.parse(await fs.readFile(path.join(runRecordsDir(store.root), name), "utf8")) as RunRecord;
          if (typeof record?.task_id === "string") records.set(record.task_id, record);
        } catch {
          // A record being written or removed: skipped this time.
        }
      }
    } catch {
      // No dispatcher has run here yet.
    }
    const out = [];
    for (const task of claimed) {
      const events = await store.readEvents(task.id).catch(() => []);
      // The latest figures an adapter reported in an event's data, if any.
      let tokens: number | null = null;
      let cost: number | null = null;
      for (const event of events) {
        const d = event.data ?? {};
        if (typeof d.tokens === "number") tokens = d.tokens;
        if (typeof d.tokens_out === "number") tokens = (typeof d.tokens_in === "number" ? d.tokens_in : 0) + d.tokens_out;
        if (typeof d.cost_usd === "number") cost = d.cost_usd;
      }
      const record = records.get(task.id);
      out.push({
        task_id: task.id,
        correlation_id: task.correlation_id,
        lane: task.lane,
        owner: task.claim_owner,
        claimed_at: task.claimed_at,
        lease_expires_at: task.lease_expires_at,
        attempt: events.filter((e) => e.type === "claimed").length,
        tokens,
        cost_usd: cost,
        pid: record?.supervisor_pid ?? null,
        host: record?.host ?? null,
      });
    }
    return { status: 200, body: { runs: out } };
  };

  const pauses: Handler = async () => ({ status: 200, body: { pauses: (await listPauses(store)).pauses } });

  const stats: Handler = async () => ({ status: 200, body: (await views()).stats });

  // ---- actions -----------------------------------------------------------------------
  const release: Handler = async ({ store: s }, { taskId }) => {
    const task = await s.get(taskId);
    if (task.state !== "claimed" || !task.claim_token) {
      throw new TransitionError("invalid_state", `cannot release task ${taskId}: it is ${task.state}, not claimed`, { taskId });
    }
    return { status: 200, body: { task: await s.release(taskId, { claimToken: task.claim_token, reason: `released by ${user} from the dashboard` }) } };
  };

  const cancel: Handler = async ({ store: s }, { taskId, body }) => {
    const reason = typeof body.reason === "string" && body.reason !== "" ? body.reason : undefined;
    await s.cancel(taskId, { by: user, ...(reason ? { reason } : {}) });
    return { status: 200, body: { task: await s.get(taskId) } };
  };

  const retry: Handler = async ({ store: s, allowedRoots }, { taskId }) => {
    const task = await s.get(taskId);
    if (task.state !== "failed") {
      throw new TransitionError("invalid_state", `cannot retry task ${taskId}: it is ${task.state}; only a failed task is retried`, { taskId });
    }
    const workspaceRoot = await assertAllowedRoot(task.workspace_root, allowedRoots);
    // Copies are made after the original: only tasks created since it are read.
    const createdAt = time(task.created_at);
    const earlier = (await s.list(createdAt === null ? {} : { since: new Date(createdAt) })).filter((t) => t.metadata?.retry_of === taskId).length;
    const copy = await s.create({
      workspace_id: task.workspace_id,
      correlation_id: `${task.correlation_id}-retry-${earlier + 1}`,
      lane: task.lane,
      workspace_root: workspaceRoot,
      request_path: task.request_path,
      response_path: task.response_path,
      source_agent: task.source_agent,
      worktree_path: task.worktree_path,
      expected_branch: task.expected_branch,
      prompt: task.prompt,
      supporting_paths: task.supporting_paths.map((p) => p.path),
      metadata: { ...task.metadata, retry_of: taskId, retried_by: user },
    });
    return { status: 201, body: { task: copy } };
  };

  const clear: Handler = async ({ store: s }, { params }) => {
    const vendor = params.vendor ?? "";
    let removed: boolean;
    try {
      removed = await clearPause(s, vendor);
    } catch (error) {
      throw new HttpError(400, (error as Error).message);
    }
    if (!removed) throw new HttpError(400, `no pause to clear for vendor ${JSON.stringify(vendor)}`);
    return { status: 200, body: { ok: true } };
  };

  const routes: Route[] = [
    { method: "GET", url: "/api/summary", handler: summary, reply: REPLY_SCHEMAS.summary },
    { method: "GET", url: "/api/tasks/:id", handler: taskDetail, reply: REPLY_SCHEMAS.taskDetail },
    { method: "GET", url: "/api/tasks/:id/files/:which", handler: taskFile, reply: {} },
    { method: "GET", url: "/api/runs", handler: runs, reply: REPLY_SCHEMAS.runs },
    { method: "GET", url: "/api/pauses", handler: pauses, reply: REPLY_SCHEMAS.pauses },
    { method: "GET", url: "/api/stats", handler: stats, reply: REPLY_SCHEMAS.stats },
    { method: "POST", url: "/api/tasks/:id/release", handler: release, body: BODY_SCHEMAS.action, reply: REPLY_SCHEMAS.task },
    { method: "POST", url: "/api/tasks/:id/cancel", handler: cancel, body: BODY_SCHEMAS.action, reply: REPLY_SCHEMAS.task },
    { method: "POST", url: "/api/tasks/:id/retry", handler: retry, body: BODY_SCHEMAS.action, reply: REPLY_SCHEMAS.created },
    { method: "POST", url: "/api/pauses/:vendor/clear", handler: clear, body: BODY_SCHEMAS.action, reply: REPLY_SCHEMAS.ok },
  ];
  for (const route of routes) addRoute(route);

  // ---- GET /events ---------------------------------------------------------------------
  const feed = createEventFeed(store, {
    safetyPollMs: options.safetyPollMs,
    onError: (err) => logger.error({ err }, "event feed failed a pass"),
  });
  const streams = new Set<() => void>();
  addRoute({
    method: "GET",
    url: "/events",
    reply: {},
    handler: async (_deps, { res }) => {
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "x-accel-buffering": "no",
        ...(options.isStopping() ? { connection: "close" } : {}),
      });
      const write = (text: string): void => {
        if (!res.writableEnded && !res.destroyed) res.write(text);
      };
      write(`retry: 2000\n\nevent: hello\ndata: ${JSON.stringify({ at: new Date().toISOString() })}\n\n`);
      const unsubscribe = feed.subscribe((event: FeedEvent) => write(`event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`));
      const heartbeat = setInterval(() => write(": keep-alive\n\n"), DASHBOARD_DEFAULTS.heartbeatMs);
      await new Promise<void>((resolve) => {
        const end = (): void => {
          clearInterval(heartbeat);
          unsubscribe();
          streams.delete(end);
          if (!res.writableEnded) res.end();
          resolve();
        };
        streams.add(end);
        res.once("close", end);
      });
      return null;
    },
  });

  return {
    close() {
      for (const end of [...streams]) end();
      feed.close();
    },
  };
}
