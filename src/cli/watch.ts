// `status --watch`: the board (board.ts) redrawn in place whenever the queue
// changes (the store's change notifier) and every second for the clocks. Only
// the lines that changed are rewritten, on the alternate screen, so nothing
// flickers; a resize redraws the whole frame at the new width. q or Ctrl-C
// quits and gives the terminal back as it was.

import type { Store } from "../store/types.js";
import { renderBoard, type BoardPause } from "./board.js";

const ESC = "\x1b[";

export interface WatchOptions {
  store: Store;
  queueRoot: string;
  lane?: string;
  out: NodeJS.WriteStream;
  input: NodeJS.ReadStream;
  /** Redraw at least this often (clocks move). @default 1000 */
  tickMs?: number;
  /** Vendor pauses to show. */
  pauses?: () => Promise<BoardPause[]>;
  now?: () => Date;
}

/** The escape sequences that turn frame `last` into frame `next` on screen. */
export function frameDiff(last: readonly string[], next: readonly string[]): string {
  let out = "";
  for (let i = 0; i < next.length; i++) {
    if (next[i] !== last[i]) out += `${ESC}${i + 1};1H${next[i]}${ESC}K`;
  }
  if (next.length < last.length) out += `${ESC}${next.length + 1};1H${ESC}J`;
  return out;
}

/** Runs until q / Ctrl-C (or SIGINT/SIGTERM); resolves once the terminal is restored. */
export async function watchBoard(options: WatchOptions): Promise<void> {
  const { store, out, input } = options;
  const tickMs = options.tickMs ?? 1000;
  const now = options.now ?? (() => new Date());
  const stop = new AbortController();
  let last: string[] = [];

  const onKey = (data: Buffer): void => {
    const key = data.toString("utf8");
    if (key === "q" || key === "Q" || key === "\u0003") stop.abort();
  };
  const onSignal = (): void => stop.abort();
  const onResize = (): void => {
    last = [];
    out.write(`${ESC}2J`);
    changes?.bump();
  };
  let changes: Awaited<ReturnType<Store["changes"]>> | undefined;

  out.write(`${ESC}?1049h${ESC}?25l${ESC}2J`);
  const raw = input.isTTY ? input.setRawMode(true) : null;
  input.on("data", onKey);
  input.resume();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  out.on("resize", onResize);
  try {
    changes = await store.changes();
    while (!stop.signal.aborted) {
      const since = changes.generation;
      const tasks = await store.list({ lane: options.lane });
      const frame = renderBoard({
        queueRoot: options.queueRoot,
        tasks,
        pauses: (await options.pauses?.().catch(() => [])) ?? [],
        problems: store.problems().length,
        now: now(),
        width: out.columns || 80,
        height: out.rows || 24,
      });
      const diff = frameDiff(last, frame);
      if (diff) out.write(diff);
      last = frame;
      await changes.wait(tickMs, since, stop.signal);
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    out.off("resize", onResize);
    input.off("data", onKey);
    if (raw) input.setRawMode(false);
    input.pause();
    out.write(`${ESC}?25h${ESC}?1049l`);
  }
}
