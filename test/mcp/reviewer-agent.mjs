#!/usr/bin/env node
// Fake reviewer for `dispatch --vendor command`: `reviewer-agent.mjs <ms>`
// reads its input, works <ms>, then answers with a line quoting the request
// (the line after the request artifact marker) and a verdict with counts.
let input = "";
const delayMs = Number(process.argv[2] ?? 0);
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const lines = input.split("\n");
  const at = lines.findIndex((line) => line.startsWith("----- BEGIN REQUEST ARTIFACT"));
  const request = at >= 0 ? (lines[at + 1] ?? "").trim() : "(no request)";
  setTimeout(() => {
    process.stdout.write(`reviewed: ${request}\nVERDICT: needs-revision\nBLOCKING: 2\nNONBLOCKING: 1\n`);
  }, delayMs);
});
