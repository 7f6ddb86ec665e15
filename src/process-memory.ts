// Long-running commands (serve, dispatch) allocate a lot while they start:
// modules compiled, route schemas built, the first look at the queue. V8
// grows its young generation for that burst (to 16 MiB) and keeps it, so an
// idle `serve` sat at 82-89 MiB on an empty queue although its live heap is a
// fraction of that. So: while starting, the young generation is not grown
// (holdYoungGeneration); once start-up is over, one full collection gives
// back what it left committed, and the young generation may grow again with
// the process's real load (releaseMemoryLater). `serve` does the same after
// a burst that read a whole history (the dashboard's first look at 50,000
// finished tasks): the memory of that pass is garbage as soon as it is over,
// but V8 and glibc keep it committed in an idle process. Nothing else forces
// a collection.

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { libcFunction } from "./store/koffi.js";

/** V8's own default (`node --v8-options`), restored after start-up. */
const DEFAULT_GROWTH_FACTOR = 2;

let holding = false;
let forLife = false;

/** True when the user sized the young generation themselves (NODE_OPTIONS or node's flags): leave it alone. */
function userSizedYoungGeneration(): boolean {
  return [...process.execArgv, process.env.NODE_OPTIONS ?? ""].some((arg) => /semi[-_]space/.test(arg));
}

/**
 * While the process starts, do not grow the young generation for start-up's
 * burst of allocations. `forLife`: never grow it (serve: its replies are
 * small, and a pass over a whole history would otherwise leave ~30 MiB of
 * young generation committed for good on Node 20, which cannot shrink it).
 */
export function holdYoungGeneration(options: { forLife?: boolean } = {}): void {
  forLife ||= options.forLife === true;
  if (holding || userSizedYoungGeneration()) return;
  try {
    setFlagsFromString("--semi-space-growth-factor=1");
    holding = true;
  } catch {
    // Not fatal: the process only keeps more memory.
  }
}

function letYoungGenerationGrow(): void {
  if (!holding || forLife) return;
  holding = false;
  try {
    setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
  } catch {
    // As above.
  }
}

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

let trim: ((pad: number) => number) | null | undefined;

/**
 * glibc's malloc_trim: the C heap (file buffers, strings V8 keeps outside its
 * own heap) keeps freed memory for reuse; this returns it to the system.
 * Null off Linux, on another C library, or when koffi cannot load.
 */
function mallocTrim(): ((pad: number) => number) | null {
  if (trim !== undefined) return trim;
  trim = null;
  if (process.platform !== "linux") return trim;
  try {
    trim = libcFunction<(pad: number) => number>("int malloc_trim(size_t pad)");
  } catch {
    trim = null;
  }
  return trim;
}

/**
 * Give back what start-up or a burst left committed: a full collection (which Node 20
 * follows by releasing the young generation's pages) and a last-resort one
 * (which Node 24 needs to shrink the young generation). Returns false when
 * no collector could be obtained (the process then just keeps the pages).
 */
export function releaseMemory(): boolean {
  const run = collector();
  letYoungGenerationGrow();
  if (!run) return false;
  try {
    run();
    run({ type: "major", execution: "sync", flavor: "last-resort" });
    mallocTrim()?.(0);
    return true;
  } catch {
    return false;
  }
}

let pending: NodeJS.Timeout | null = null;

/**
 * releaseMemory() once, `delayMs` from now, on a timer that never keeps the
 * process alive (calls meanwhile share it); after start-up the young
 * generation grows again from then on.
 */
export function releaseMemoryLater(delayMs = 2000): void {
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    releaseMemory();
  }, delayMs);
  pending.unref();
}
