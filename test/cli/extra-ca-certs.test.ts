// NODE_EXTRA_CA_CERTS through the package's bin, started as a shell starts it
// (the file itself, whose first line is #!/bin/sh): Node does not parse the
// file at start-up (Node 20 would, on every command), yet every process the
// CLI starts sees the variable as the user set it, and the CLI's own TLS
// connections trust the file's certificates. The CA, the server's
// certificate and the HTTPS webhook sink are real (openssl, node:https); the
// control runs show that without the file the same delivery is refused.

import { execFileSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trustDeferredExtraCaCerts } from "../../src/extra-ca-certs.js";
import { openStore, type Store } from "../../src/store/index.js";
import { startHookServer, type HookServer } from "../notify/hook-server.js";
import { waitFor } from "../supervisor/helpers.js";
import { CLI, makeCliWorkspace, type CliWorkspace } from "./cli-helpers.js";

const NODE_MAJOR = Number(process.versions.node.split(".")[0]);
/** The bin run as a shell runs it, on the Node running the tests (the launcher execs `node` from PATH). */
const PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ""}`;

let certs: string;
let caFile: string;
let hook: HookServer;
let ws: CliWorkspace;
let store: Store;
const children: ResultPromise[] = [];

/** A CA and a certificate for 127.0.0.1 signed by it, made with the openssl command. */
function makeCertificates(dir: string): { key: string; cert: string } {
  const openssl = (args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  };
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=agent-lanes test CA"]);
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
  execFileSync("sh", ["-c", "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext"], { cwd: dir });
  openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext"]);
  return { key: execFileSync("cat", ["server.key"], { cwd: dir, encoding: "utf8" }), cert: execFileSync("cat", ["server.pem"], { cwd: dir, encoding: "utf8" }) };
}

beforeAll(async () => {
  certs = await mkdtemp(path.join(os.tmpdir(), "al-extra-ca-"));
  caFile = path.join(certs, "ca.pem");
  hook = await startHookServer(makeCertificates(certs));
  ws = await makeCliWorkspace("al-extra-ca-ws-");
  store = openStore(ws.queue);
});

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await Promise.all(children.map((c) => c.catch(() => undefined)));
  await store?.close();
  await hook?.close();
  await ws?.cleanup();
  await rm(certs, { recursive: true, force: true });
});

/** The environment of a run: the test's, with NODE_EXTRA_CA_CERTS as given (undefined: unset). */
function env(extra: string | undefined): Record<string, string | undefined> {
  return { PATH, NODE_EXTRA_CA_CERTS: extra, AGENT_LANES_DEFERRED_EXTRA_CA_CERTS: undefined, NODE_OPTIONS: undefined, AGENT_LANES_DEBUG: undefined };
}

/** A TLS handshake with the HTTPS sink as the PostgreSQL driver makes one (tls.connect, no `ca`): the error code, or "ok". */
function handshake(options: tls.ConnectionOptions = {}): Promise<string> {
  const { port } = new URL(hook.url);
  return new Promise((resolve) => {
    const socket = tls.connect({ host: "127.0.0.1", port: Number(port), ...options }, () => {
      socket.end();
      resolve("ok");
    });
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe("NODE_EXTRA_CA_CERTS through the bin", () => {
  it("in process: after the bin deferred it, TLS without its own `ca` trusts Node's roots plus the file; an explicit `ca` is kept", async () => {
    // The store this worker started with (Node's roots, and the machine's NODE_EXTRA_CA_CERTS if it sets one) lacks the test CA.
    expect(await handshake()).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    const mark = Symbol.for("agent-lanes.deferred-extra-ca-certs");
    (globalThis as unknown as Record<symbol, string>)[mark] = caFile;
    try {
      trustDeferredExtraCaCerts();
      expect(await handshake()).toBe("ok");
      expect(await handshake({ ca: tls.rootCertificates.join("\n") })).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    } finally {
      delete (globalThis as unknown as Record<symbol, string>)[mark];
    }
  });


  it("is not parsed when Node starts: a missing file draws no start-up warning through the bin", async () => {
    const viaBin = await execa(CLI, ["--version"], { env: env("/nonexistent/extra-ca.pem"), reject: false });
    expect(viaBin.exitCode).toBe(0);
    expect(viaBin.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(viaBin.stderr).not.toContain("extra certs");
    // The control: Node 20 itself reads the file at start and warns.
    const direct = await execa(process.execPath, [CLI, "--version"], { env: env("/nonexistent/extra-ca.pem"), reject: false });
    expect(direct.exitCode).toBe(0);
    if (NODE_MAJOR < 22) expect(direct.stderr).toContain("Ignoring extra certs from `/nonexistent/extra-ca.pem`");
  });

  it("is left to Node when NODE_OPTIONS chooses the root store", async () => {
    const result = await execa(CLI, ["--version"], { env: { ...env("/nonexistent/extra-ca.pem"), NODE_OPTIONS: "--use-openssl-ca" }, reject: false });
    expect(result.exitCode).toBe(0);
    if (NODE_MAJOR < 22) expect(result.stderr).toContain("Ignoring extra certs from `/nonexistent/extra-ca.pem`");
  });

  it("agents see it as the user set it, and a webhook over HTTPS signed by its CA gets the notification", async () => {
    const agent = path.join(ws.root, "env-agent.sh");
    const seen = path.join(ws.root, "agent-env.txt");
    await writeFile(agent, `#!/bin/sh\ncat >/dev/null\nenv | grep -E '^(NODE_EXTRA_CA_CERTS|AGENT_LANES_DEFERRED)' > '${seen}'\nprintf 'done\\nVERDICT: accept\\n'\n`);
    await chmod(agent, 0o755);

    /** One dispatcher run through the bin until the task is answered and its notification sent or given up. */
    const runOnce = async (extra: string | undefined): Promise<{ id: string; log: string }> => {
      const id = await ws.submit("default", []);
      const child = execa(
        CLI,
        ["--config", ws.config, "dispatch", "--vendor", "command", "--command", agent, "--notify", hook.url, "--concurrency", "1", "--max-attempts", "1", "--poll-seconds", "0.2", "--log-format", "json"],
        { cwd: ws.root, env: env(extra), reject: false },
      );
      children.push(child);
      let log = "";
      child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString("utf8")));
      child.stdout?.on("data", (chunk: Buffer) => (log += chunk.toString("utf8")));
      await waitFor(`task ${id} answered`, async () => (await store.get(id)).state === "completed", 60_000);
      await waitFor(`the notification of ${id} sent or given up`, () => hook.received.some((r) => r.json?.task_id === id) || /certificate|UNABLE_TO_VERIFY/i.test(log), 60_000);
      child.kill("SIGTERM");
      expect((await child).exitCode).toBe(0);
      return { id, log };
    };

    const trusted = await runOnce(caFile);
    expect(hook.received.filter((r) => r.json?.task_id === trusted.id)).toHaveLength(1);
    expect(hook.received.find((r) => r.json?.task_id === trusted.id)?.json).toMatchObject({ event: "task.completed" });
    expect((await readFile(path.join(ws.root, "agent-env.txt"), "utf8")).trim()).toBe(`NODE_EXTRA_CA_CERTS=${caFile}`);

    // The control: without the file the same sink's certificate is refused, and the agent sees no variable.
    const untrusted = await runOnce(undefined);
    expect(hook.received.some((r) => r.json?.task_id === untrusted.id)).toBe(false);
    expect(untrusted.log).toMatch(/certificate|UNABLE_TO_VERIFY/i);
    expect((await readFile(path.join(ws.root, "agent-env.txt"), "utf8")).trim()).toBe("");
  }, 120_000);
});
