// Long-running commands (serve, dispatch) allocate a lot while they start:
// modules compiled, route schemas built, the first look at the queue. V8
// grows its young generation for that burst (to 16 MiB) and keeps it, so an
// idle `serve` sat at 82-89 MiB on an empty queue although its live heap is a
// fraction of that. So: while starting, the young generation is not grown
// (holdYoungGeneration); once start-up is over, one full collection gives
// back what it left committed, and the young generation may grow again with
// the process's real load (releaseStartupMemoryLater). Nothing else in the
// process forces a collection.

import { setFlagsFromString } from "node:v8";

/** V8's own default (`node --v8-options`), restored after start-up. */
const DEFAULT_GROWTH_FACTOR = 2;

let holding = false;

/** True when the user sized the young generation themselves (NODE_OPTIONS or node's flags): leave it alone. */
function userSizedYoungGeneration(): boolean {
  return [...process.execArgv, process.env.NODE_OPTIONS ?? ""].some((arg) => /semi[-_]space/.test(arg));
}

/** While the process starts, do not grow the young generation for start-up's burst of allocations. */
export function holdYoungGeneration(): void {
  if (holding || userSizedYoungGeneration()) return;
  try {
    setFlagsFromString("--semi-space-growth-factor=1");
    holding = true;
  } catch {
    // Not fatal: the process only keeps more memory.
  }
}

function letYoungGenerationGrow(): void {
  if (!holding) return;
  holding = false;
  try {
    setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
  } catch {
    // As above.
  }
}
import { runInNewContext } from "node:vm";

type GcOptions = { type: "major"; execution: "sync"; flavor?: "last-resort" };
type Gc = (options?: GcOptions) => void;

let gc: Gc | null | undefined;

function collector(): Gc | null {
  if (gc !== undefined) return gc;
  try {
    // `gc` exists when the process was started with --expose-gc; otherwise
    // expose it now: a fresh context then carries it as a global.
    const existing = (globalThis as { gc?: Gc }).gc;
    if (typeof existing === "function") return (gc = existing);
    setFlagsFromString("--expose-gc");
    const exposed = runInNewContext("gc") as unknown;
    gc = typeof exposed === "function" ? (exposed as Gc) : null;
  } catch {
    gc = null;
  }
  return gc;
}

/**
 * Give back what start-up left committed: a full collection (which Node 20
 * follows by releasing the young generation's pages) and a last-resort one
 * (which Node 24 needs to shrink the young generation). Returns false when
 * no collector could be obtained (the process then just keeps the pages).
 */
export function releaseStartupMemory(): boolean {
  const run = collector();
  letYoungGenerationGrow();
  if (!run) return false;
  try {
    run();
    run({ type: "major", execution: "sync", flavor: "last-resort" });
    return true;
  } catch {
    return false;
  }
}

/** releaseStartupMemory() once, `delayMs` after start-up, on a timer that never keeps the process alive; the young generation grows again from then on. */
export function releaseStartupMemoryLater(delayMs = 2000): void {
  setTimeout(releaseStartupMemory, delayMs).unref();
}
