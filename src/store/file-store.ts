// FileStore: the Store interface over a queue folder, wiring the transitions,
// the scanner and the change notifier. Holds no state of its own beyond caches.

import { promises as fs, statSync } from "node:fs";
import path from "node:path";
import { ensureDir } from "./atomic.js";
import { createChangeNotifier } from "./changes.js";
import { cancelTask } from "./cancel.js";
import { claimTask } from "./claim.js";
import { addEvent, isClaimable, isTerminal, leaseExpired, loadTask, locked, type StoreContext } from "./context.js";
import { createTask, refuseQueueTarget } from "./create.js";
import { UnknownTaskError } from "./errors.js";
import { checkEventInput, readEventLines } from "./events.js";
import { assertTaskId, queuePaths } from "./layout.js";
import { filePauses } from "./pause-records.js";
import { readResponseFile } from "./records.js";
import { writeResponseBody } from "./response-output.js";
import { derivedReads } from "./derived.js";
import { waitLoop } from "./wait.js";
import { releaseTask } from "./release.js";
import { renewTask } from "./renew.js";
import { respondTask } from "./respond.js";
import { materialize, materializeRendered, selectRows } from "./listing.js";
import { readFinishedFacts } from "./finished-facts.js";
import type { LockWaitInfo } from "./lock.js";
import { DEFAULT_REQUEST_MAX_BYTES } from "./safe-file.js";
import { createScanner, type ScanResult } from "./scan.js";
import { firstScanInHelper, sweepInHelper } from "./scan-offload.js";
import { byPriority, readSchedule, readyToRun } from "./schedule.js";
import { spareFiles } from "./spare-files.js";
import { sweepOrphanTaskFolders, sweepTempFiles } from "./sweep-temp.js";
import { isoFromDate, isoNow } from "./time.js";
import type { AvailableOptions, ChangeNotifier, ListOptions, ScanProblem, Store, Task, TaskEvent, TaskResponse, TaskSummary, WaitOptions } from "./types.js";

export interface OpenStoreOptions {
  /** Injected clock (tests). @default () => new Date() */
  now?: () => Date;
  /**
   * Safety-poll interval of waitForResponse when no file-system event arrives.
   * @default 2000
   */
  pollMs?: number;
  /** Writers give up waiting for the queue lock after this long (LockTimeoutError). @default 60_000 */
  lockTimeoutMs?: number;
  /** Called once when a writer has waited 2 s for the queue lock (the CLI prints a line). */
  onLockWait?: (info: LockWaitInfo) => void;
  /**
   * Keep the listing snapshot in <queue>/cache/ (scan.ts): a one-shot process
   * (the CLI) then lists neither the task folders nor the finished tasks'
   * files while the tasks folder is unchanged. @default false
   */
  listingSnapshot?: boolean;
  /**
   * A long-running process (dispatch, serve, wait --lane): the first scan and
   * the start-up sweep, whose cost follows the queue's history, are made by a
   * short-lived helper process (scan-offload.ts), so this one's memory stays
   * bounded by the live tasks. @default false
   */
  longRunning?: boolean;
  /** Largest request or supporting file accepted and hashed. @default 8 MiB (DEFAULT_REQUEST_MAX_BYTES) */
  requestMaxBytes?: number;
}

export { STORE_EVENT_TYPES } from "./events.js";

/** The Store of a queue folder. */
export type FileStore = Store;

/** Open the queue at `root` (created on first write). */
export function openStore(root: string, options: OpenStoreOptions = {}): FileStore {
  const paths = queuePaths(root);
  const pollMs = options.pollMs ?? 2000;
  const longRunning = options.longRunning === true;
  const scanner = createScanner(paths.tasks, { snapshot: options.listingSnapshot === true, firstScan: longRunning ? firstScanInHelper : null });
  let lastProblems: ScanProblem[] = [];
  let notifier: Promise<ChangeNotifier> | undefined;
  let closed: Promise<void> | undefined;
  let rootReady: Promise<void> | undefined;

  const ctx: StoreContext = {
    paths,
    now: options.now ?? (() => new Date()),
    stamp: options.now ? () => isoFromDate((options.now as () => Date)()) : isoNow,
    onWrite: (taskId) => {
      // The running notifier is told what was written at once: the next scan of this process sees it whether or not the inotify event has been read by then.
      if (watching?.wrote) watching.wrote(taskId);
      else void notifier?.then((n) => n.bump(), () => undefined);
    },
    lock: { timeoutMs: options.lockTimeoutMs, onWait: options.onLockWait },
    requestMaxBytes: options.requestMaxBytes ?? DEFAULT_REQUEST_MAX_BYTES,
    // A long-running process writes task files in recycled inodes (a new file costs ~1 ms of CPU on a busy ext4 without a journal).
    spares: longRunning ? spareFiles(path.join(paths.root, "cache", "spare-files")) : undefined,
  };

  const ensureRoot = (): Promise<void> => {
    rootReady ??= ensureDir(paths.root).then(() => ensureDir(paths.tasks));
    return rootReady;
  };

  const withQueue = async <T>(body: () => Promise<T>): Promise<T> => {
    await ensureRoot();
    return body();
  };

  /** Whether the queue folder exists (known once this store created it); reads and per-task operations never create it. */
  const queueExists = async (): Promise<boolean> => {
    if (rootReady !== undefined) return true;
    try {
      return statSync(paths.root).isDirectory(); // a plain system call: cheaper than the thread pool's round trip
    } catch {
      return false;
    }
  };

  /** For operations on one existing task: a missing queue folder means an unknown task, and is never created. */
  const withTask = async <T>(taskId: string, body: () => Promise<T>): Promise<T> => {
    assertTaskId(taskId);
    if (!(await queueExists())) throw new UnknownTaskError(taskId);
    return body();
  };

  /** The notifier once it runs (its names keep the listing current). */
  let watching: ChangeNotifier | null = null;
  let relistNext = false;
  const changes = (): Promise<ChangeNotifier> => {
    notifier ??= ensureRoot()
      .then(() => createChangeNotifier(paths.tasks))
      .then((n) => {
        watching = n;
        relistNext = true; // what changed before the watcher started is seen by a full listing
        return n;
      });
    return notifier;
  };

  /**
   * Scan without the lock (every writer replaces files by rename, so a reader
   * sees a whole old or new file): a stuck lock holder never blocks a read.
   * Keeps the notifier watching every live task. Reads never create the queue.
   * Finished tasks are listed only when asked for.
   */
  async function scanAll(finished = false): Promise<ScanResult> {
    if (!(await queueExists())) {
      lastProblems = [];
      return { tasks: [], finished: [], finishedCount: 0, problems: [], pending: [] };
    }
    // With a watcher running, only the entries its events named are new
    // (the first scan after it started lists the folder in full).
    let changed = watching?.takeNames?.() ?? null;
    const touched = watching?.takeTouched?.() ?? null;
    if (relistNext) {
      changed = null;
      relistNext = false;
    }
    const result = await scanner.scan({ finished, changed, touched });
    lastProblems = result.problems;
    if (notifier) {
      // The watched folders follow the live tasks; most scans find the same set
      // (a dispatcher looks at the queue after each of its own writes), and
      // then nothing is handed to the notifier. After a possibly missed change
      // (touched === null: a watcher failed, or none runs yet) it is handed over
      // in any case, so a dropped watch is made again.
      const delta = liveDelta(result.tasks, touched === null);
      const pending = result.pending.length > 0 || expecting ? result.pending.map((id) => paths.taskDir(id)) : null;
      expecting = result.pending.length > 0;
      if (delta || pending) {
        void notifier.then((n) => {
          if (delta?.all) n.track(delta.all.map((id) => paths.taskDir(id)));
          else if (delta && n.trackChanges) n.trackChanges(delta.added.map((id) => paths.taskDir(id)), delta.removed.map((id) => paths.taskDir(id)));
          else if (delta) n.track([...(trackedIds ?? [])].map((id) => paths.taskDir(id)));
          if (pending) n.expect?.(pending);
        }, () => undefined);
      }
    }
    return result;
  }

  /** The live ids last handed to the notifier, and whether folders being created were. */
  let trackedIds: Set<string> | null = null;
  let expecting = false;
  /**
   * How the live tasks' ids differ from those last handed to the notifier:
   * null when they do not, the whole set (`all`) the first time and when
   * `force`d, else the ids added and removed.
   */
  function liveDelta(tasks: readonly Task[], force: boolean): { all: string[] } | { all?: undefined; added: string[]; removed: string[] } | null {
    const previous = trackedIds;
    const added: string[] = [];
    let kept = 0;
    for (const task of tasks) {
      if (isTerminal(task)) continue;
      if (previous?.has(task.id)) kept += 1;
      else added.push(task.id);
    }
    if (previous && !force && added.length === 0 && kept === previous.size) return null;
    const next = new Set<string>();
    for (const task of tasks) if (!isTerminal(task)) next.add(task.id);
    trackedIds = next;
    if (!previous || force) return { all: [...next] };
    const removed: string[] = [];
    if (kept < previous.size) for (const id of previous) if (!next.has(id)) removed.push(id);
    return { added, removed };
  }

  /** Tasks of `lane` holding a live lease; the caller (a claim) already holds the lock. */
  const liveLeases = async (lane: string): Promise<number> => {
    const now = ctx.now();
    const { tasks } = await scanner.scan();
    return tasks.filter((t) => t.lane === lane && t.state === "claimed" && !leaseExpired(t, now)).length;
  };

  const byAge = (tasks: Task[]): Task[] => {
    const keyed = tasks.map((t) => [scanner.order(t), t] as const);
    keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return keyed.map(([, t]) => t);
  };

  async function available(opts: AvailableOptions = {}): Promise<Task[]> {
    const now = opts.now ?? ctx.now();
    const lanes = opts.lanes ? new Set(opts.lanes) : null;
    const { tasks } = await scanAll();
    const candidates = tasks.filter((t) => (!lanes || lanes.has(t.lane)) && isClaimable(t, now) && (!opts.accept || opts.accept(t)));
    const ready = readyToRun([...tasks, ...(await finishedDependencies(tasks, candidates))], now);
    return byPriority(byAge(candidates.filter(ready)));
  }

  /** The finished tasks `candidates` depend on: the scan keeps only their ids, so they are read (rarely more than a few). */
  async function finishedDependencies(live: readonly Task[], candidates: readonly Task[]): Promise<Task[]> {
    const liveIds = new Set(live.map((t) => t.id));
    const wanted = new Set<string>();
    for (const t of candidates) for (const id of readSchedule(t).dependsOn) if (!liveIds.has(id)) wanted.add(id);
    const read = await Promise.all([...wanted].map((id) => loadTask(ctx, id).catch(() => null)));
    return read.filter((t): t is Task => t !== null);
  }

  /** The rows a listing with these options shows (finished tasks scanned only when it may show some). */
  async function listingRows(opts: ListOptions): Promise<ReturnType<typeof selectRows>> {
    const wantFinished = !opts.activeOnly && (!opts.states || opts.states.some((s) => s === "completed" || s === "failed"));
    return selectRows(await scanAll(wantFinished), scanner.order, opts);
  }

  /**
   * Materialise a listing. A task the scanner held as finished that has
   * another task.json now (its folder replaced, restored or edited) is read
   * again, and listed, run or reported as what it is now. Once: the second
   * scan reads those files.
   */
  async function listed<T>(opts: ListOptions, materializeRows: (rows: ReturnType<typeof selectRows>, onStale: (id: string) => void) => Promise<T>): Promise<T> {
    const stale: string[] = [];
    const shown = await materializeRows(await listingRows(opts), (id) => stale.push(id));
    if (stale.length === 0) return shown;
    for (const id of stale) scanner.recheck(id);
    return materializeRows(await listingRows(opts), () => undefined);
  }

  async function summaries(opts: ListOptions, withFacts: boolean): Promise<TaskSummary[]> {
    return listed(opts, (rows, onStale) => materialize(paths, rows, withFacts, onStale));
  }

  async function getResponse(taskId: string): Promise<TaskResponse | null> {
    assertTaskId(taskId);
    return readResponseFile(paths.responseFile(taskId), taskId);
  }

  async function waitForResponse(taskId: string, opts: WaitOptions = {}): Promise<TaskResponse | null> {
    assertTaskId(taskId);
    await loadTask(ctx, taskId); // an unknown task is an error before any watcher starts
    const n = await changes();
    const unpin = n.pin(paths.taskDir(taskId));
    try {
      return await waitLoop(taskId, opts, { get: (id) => loadTask(ctx, id), getResponse, notifier: n, pollMs });
    } finally {
      unpin();
    }
  }

  function writeResponseOutput(task: Task, response: TaskResponse, opts: { workspaceRoot?: string } = {}): Promise<string> {
    return writeResponseBody(task.response_path, response.body, {
      workspaceRoot: opts.workspaceRoot ?? task.workspace_root,
      taskId: task.id,
      // A task written by another implementation may name a queue file; never overwrite one.
      refuse: (target) => refuseQueueTarget(ctx, target, task.id),
    });
  }

  const store: FileStore = {
    root: paths.root,
    kind: "file",
    location: paths.root,
    transitionEvents: true,
    pauses: filePauses(paths.root),
    create: (input) => withQueue(() => createTask(ctx, input)),
    get: async (taskId) => {
      assertTaskId(taskId);
      return loadTask(ctx, taskId);
    },
    ...derivedReads(summaries, available),
    renderedSummaries: (opts, renderer) => listed(opts, (rows, onStale) => materializeRendered(paths, rows, renderer, onStale)),
    available,
    problems: () => [...lastProblems],
    async laneHasTasks(lane) {
      const scan = await scanAll(false);
      if (scan.tasks.some((t) => t.lane === lane)) return true;
      // Finished tasks by lane come with a listing snapshot; without one, a listing of the lane says it.
      if (scan.finishedLanes) return (scan.finishedLanes.get(lane) ?? 0) > 0;
      return (await summaries({ lane, limit: 1 }, false)).length > 0;
    },
    async finishedCount() {
      if (!(await queueExists())) return 0;
      return (await scanAll(false)).finishedCount;
    },
    async finishedFacts(opts) {
      if (!(await queueExists())) return { total: 0, counts: {}, recent: [], window: [] };
      // As listed(): a task whose task.json is no longer the file the scanner knew is looked at again, once.
      const stale: string[] = [];
      const result = await readFinishedFacts(paths, (await scanAll(true)).finished, opts, (id) => stale.push(id));
      if (stale.length === 0) return result;
      for (const id of stale) scanner.recheck(id);
      return readFinishedFacts(paths, (await scanAll(true)).finished, opts);
    },
    claim: (taskId, input) => withTask(taskId, () => claimTask(ctx, taskId, input, liveLeases)),
    renew: (taskId, input) => withTask(taskId, () => renewTask(ctx, taskId, input)),
    release: (taskId, input) => withTask(taskId, () => releaseTask(ctx, taskId, input)),
    respond: (taskId, input) => withTask(taskId, () => respondTask(ctx, taskId, input)),
    cancel: (taskId, input) => withTask(taskId, () => cancelTask(ctx, taskId, input)),
    async appendEvent(taskId, event): Promise<TaskEvent> {
      assertTaskId(taskId);
      checkEventInput(taskId, event);
      return withTask(taskId, () =>
        locked(ctx, async (ctx) => {
          await loadTask(ctx, taskId);
          const written = await addEvent(ctx, taskId, event);
          ctx.onWrite(taskId);
          return written;
        }),
      );
    },
    async readEvents(taskId) {
      assertTaskId(taskId);
      return readEventLines(paths.eventsFile(taskId));
    },
    getResponse,
    waitForResponse,
    writeResponseOutput,
    changes,
    async prune(opts = {}) {
      if (!(await queueExists())) return { dry_run: Boolean(opts.dryRun), pruned: [], kept: [], archives: [], index_files: [], remaining_finished: 0 };
      const { pruneTasks } = await import("./prune.js");
      const result = await pruneTasks(ctx, opts);
      for (const p of result.pruned) if (!result.dry_run) scanner.forget(p.id);
      return result;
    },
    async sweepTempFiles(opts = {}) {
      if (!(await queueExists())) return [];
      const olderThanMs = opts.olderThanMs ?? 60 * 60 * 1000;
      return locked(ctx, async (ctx) => {
        const now = ctx.now();
        const swept = longRunning ? await sweepInHelper(paths.root, olderThanMs, now) : null;
        return swept ?? [...(await sweepOrphanTaskFolders(paths, olderThanMs, now)), ...(await sweepTempFiles(paths, olderThanMs, now))];
      });
    },
    close() {
      closed ??= (async () => {
        const n = await notifier?.catch(() => undefined);
        await n?.close();
        ctx.spares?.close();
        scanner.clear();
      })();
      return closed;
    },
  };
  return store;
}
