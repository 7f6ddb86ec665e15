#!/usr/bin/env node
// The instant agent of bench/dispatch.mjs: reads its input to the end (so the
// supervisor's stdin write never meets a closed pipe) and answers at once.
// It measures the dispatcher's own overhead per task, not an agent's.
let bytes = 0;
process.stdin.on("data", (chunk) => {
  bytes += chunk.length;
});
process.stdin.on("end", () => {
  process.stdout.write(`ok (${bytes} bytes of input)\n`);
});
