#!/usr/bin/env node
// A stand-in "agent CLI" for the example plugin: reads the task's input on
// stdin and prints one JSON object. Real plugins wrap a real CLI (aider,
// opencode, ...); this one exists so the example runs anywhere Node runs.
//
//   echo-agent [--model NAME] [--shout]      input on stdin
//   -> {"reply": "...", "model": "...", "input_chars": N}
//
// ECHO_AGENT_FAIL=limit prints "rate limited; retry after <ISO time>" on
// stderr and exits 75; ECHO_AGENT_FAIL=crash exits 1 with a message.

const args = process.argv.slice(2);
let model = "echo-1";
let shout = false;
for (let i = 0; i < args.length; i += 1) {
  if (args[i] === "--model" && i + 1 < args.length) model = args[++i];
  else if (args[i] === "--shout") shout = true;
  else {
    process.stderr.write(`echo-agent: unknown argument ${args[i]}\n`);
    process.exit(2);
  }
}

const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", () => {
  const input = Buffer.concat(chunks).toString("utf8");
  if (process.env.ECHO_AGENT_FAIL === "limit") {
    const retryAfter = new Date(Date.now() + Number(process.env.ECHO_AGENT_RETRY_SECONDS ?? 60) * 1000);
    process.stderr.write(`rate limited; retry after ${retryAfter.toISOString()}\n`);
    process.exit(75);
  }
  if (process.env.ECHO_AGENT_FAIL === "crash") {
    process.stderr.write("echo-agent: out of cheese\n");
    process.exit(1);
  }
  const first = input.split("\n").find((line) => line.trim() !== "") ?? "";
  const reply = `echo: ${first.trim()}`;
  process.stdout.write(`${JSON.stringify({ reply: shout ? reply.toUpperCase() : reply, model, input_chars: input.length })}\n`);
});
