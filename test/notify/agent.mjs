#!/usr/bin/env node
// Fake agent for the notification tests: answers at once, or fails (exit 3)
// when its input asks for it with the line PLEASE FAIL.
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  if (input.includes("PLEASE FAIL")) {
    process.stderr.write("asked to fail\n");
    process.exit(3);
  }
  process.stdout.write("done\nVERDICT: accept\n");
});
