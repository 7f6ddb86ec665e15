#!/usr/bin/env node
// The bundled demo agent (dist/src/demo/agent.js): reads its whole input on
// stdin, thinks for 100-300 ms, prints a deterministic answer (answers.ts).
// It loads nothing but that module, so it starts as fast as node does.

import { answer, thinkingMs } from "./answers.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function main(): Promise<void> {
  const input = await readStdin();
  const reply = answer(input);
  await new Promise((resolve) => setTimeout(resolve, thinkingMs(input, process.env)));
  if (reply.exitCode !== 0) {
    process.stderr.write(`${reply.text}\n`);
    process.exitCode = reply.exitCode;
    return;
  }
  process.stdout.write(`${reply.text}\n`);
}
await main();
