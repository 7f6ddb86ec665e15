// The helper process of scan-offload.ts. Arguments:
//   scan <tasks folder> --names-fd 3            first scan: prints the scanner's state as JSON and
//                                               writes the finished tasks' names, one a line, to
//                                               descriptor 3 (an open file whose name is gone)
//   sweep <queue root> <older than ms> <now ms> start-up sweep: prints the removed paths as JSON
// It writes what a scan in the long-running process would have written (the
// summary cache, the listing snapshot) and exits; its memory goes with it.

import { writeSync } from "node:fs";
import { createScanner, RACY_WINDOW_MS } from "./scan.js";
import { queuePaths } from "./layout.js";
import { sweepOrphanTaskFolders, sweepTempFiles } from "./sweep-temp.js";

async function write(data: string | Uint8Array): Promise<void> {
  await new Promise<void>((resolve, reject) => process.stdout.write(data, (error) => (error ? reject(error) : resolve())));
}

async function main(argv: string[]): Promise<void> {
  const [job, ...rest] = argv;
  if (job === "scan" && rest.length === 3 && rest[1] === "--names-fd") {
    // Finished tasks too: each is classified (checked against the summary cache and its file, or read)
    // so the long-running process can skip them unread from the start.
    const scanner = createScanner(rest[0] as string, { snapshot: true });
    await scanner.scan({ finished: true });
    // A folder changed within the racy window cannot be trusted unchanged later
    // (its mtime may not move again): the long-running process would list it
    // again at once. Wait the window out and list it here instead (a few times
    // at most, for a folder that keeps changing).
    for (let round = 0; round < 3; round += 1) {
      const listing = scanner.handOver().state.listing;
      if (listing === null || listing.trusted) break;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, listing.mtimeMs + RACY_WINDOW_MS + 20 - Date.now())));
      await scanner.scan({ finished: true });
    }
    const { state, finished } = scanner.handOver();
    const fd = Number(rest[2]);
    for (let at = 0; at < finished.length; ) at += writeSync(fd, finished, at, finished.length - at);
    await write(JSON.stringify(state));
    return;
  }
  if (job === "sweep" && rest.length === 3) {
    const [root, olderThanMs, nowMs] = rest as [string, string, string];
    const paths = queuePaths(root);
    const now = new Date(Number(nowMs));
    const removed = [...(await sweepOrphanTaskFolders(paths, Number(olderThanMs), now)), ...(await sweepTempFiles(paths, Number(olderThanMs), now))];
    await write(JSON.stringify(removed));
    return;
  }
  throw new Error(`usage: scan-helper scan TASKS_DIR --names-fd FD | sweep QUEUE_ROOT OLDER_THAN_MS NOW_MS (got ${JSON.stringify(argv)})`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`agent-lanes scan helper: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
