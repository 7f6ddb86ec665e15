// The CLI's stdout and stderr, written with write(2) rather than through
// process.stdout / process.stderr. The first touch of either stream costs a
// one-shot command about 2 ms of CPU (Node builds the stream: the streams
// modules, and for a pipe a net socket), as much as some whole commands
// spend on their own work; a payload is one or a few writes.
//
// A write loops until every byte is out (a pipe takes 64 KiB at a time). A
// descriptor left non-blocking by whoever shares it (EAGAIN) hands the rest,
// and every later write, to Node's stream, which waits for the reader: the
// order of the output is kept either way. A reader that has gone away
// (EPIPE, `agent-lanes list | head -1`) ends the command quietly, as before.

import { writeSync } from "node:fs";

/** Per descriptor: true once writes go through Node's stream (after an EAGAIN). */
const viaStream: Record<1 | 2, boolean> = { 1: false, 2: false };

function stream(fd: 1 | 2): NodeJS.WriteStream {
  const out = fd === 1 ? process.stdout : process.stderr;
  if (!viaStream[fd]) {
    viaStream[fd] = true;
    out.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") {
        if (fd === 1) process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
        return;
      }
      throw error;
    });
  }
  return out;
}

function write(fd: 1 | 2, data: string | Uint8Array): void {
  if (viaStream[fd]) {
    stream(fd).write(data);
    return;
  }
  let rest = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(fd, rest));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EINTR") continue;
      if (code === "EAGAIN") {
        stream(fd).write(rest);
        return;
      }
      if (code === "EPIPE") {
        if (fd === 1) process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
        return;
      }
      throw error;
    }
  }
}

/** Write to stdout (a payload). */
export function writeOut(data: string | Uint8Array): void {
  write(1, data);
}

/** Write to stderr (errors, warnings, progress). */
export function writeErr(data: string | Uint8Array): void {
  write(2, data);
}
