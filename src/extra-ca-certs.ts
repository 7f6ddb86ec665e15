// NODE_EXTRA_CA_CERTS, read when TLS needs it rather than at every start.
//
// Node 20 reads and parses the file NODE_EXTRA_CA_CERTS names, together with
// its own bundled root certificates, when the process starts, before any of
// our code: on a machine that sets it (a corporate or Debian bundle of some
// 140 certificates) that is about 30 ms of CPU on every command, a third of a
// one-shot command's cost. Node 24 reads it only when TLS first needs it.
//
// So the package's bin starts with lines of /bin/sh (scripts/post-build.mjs
// writes them) that move the variable aside, into
// AGENT_LANES_DEFERRED_EXTRA_CA_CERTS, before they exec Node, and main.cjs
// puts it back at once (restoreDeferredExtraCaCerts): every process the CLI
// starts (agents, hooks, helpers) sees NODE_EXTRA_CA_CERTS as the user set
// it. What Node did not load, the modules that open TLS connections (the
// PostgreSQL store, the webhook and ntfy sinks) add before they connect
// (trustDeferredExtraCaCerts): a TLS context made without its own `ca`
// trusts Node's bundled roots plus the file's certificates, which is what
// NODE_EXTRA_CA_CERTS means to Node. A context given `ca` is left alone, as
// Node leaves it.
//
// The launcher leaves the variable in place when NODE_OPTIONS picks another
// root store (--use-openssl-ca, --use-system-ca, --use-bundled-ca), and
// nothing is deferred when the CLI is started as `node main.cjs` or used as a
// library.

import { readFileSync } from "node:fs";
import tls from "node:tls";

/**
 * Set by main.cjs (restoreDeferredExtraCaCerts in src/cli/main.cts), in this
 * realm, when it put back a NODE_EXTRA_CA_CERTS that Node started without:
 * the file's path.
 */
const DEFERRED_MARK = Symbol.for("agent-lanes.deferred-extra-ca-certs");

let trusted = false;

/**
 * Before this process's first TLS connection: when Node started without the
 * NODE_EXTRA_CA_CERTS file (the bin deferred it), make TLS contexts that
 * carry no `ca` of their own trust Node's roots plus the file's
 * certificates. Once per process; a file that cannot be read is reported
 * the way Node reports it and ignored, as Node ignores it.
 */
export function trustDeferredExtraCaCerts(): void {
  if (trusted) return;
  trusted = true;
  const file = (globalThis as unknown as Record<symbol, string | undefined>)[DEFERRED_MARK];
  if (file === undefined) return;
  let extra: string;
  try {
    extra = readFileSync(file, "utf8");
  } catch (error) {
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(error as Error).message}`);
    return;
  }
  const roots = [...tls.rootCertificates, extra];
  const createSecureContext = tls.createSecureContext;
  tls.createSecureContext = (options?: tls.SecureContextOptions) =>
    createSecureContext(options?.ca == null ? { ...options, ca: roots } : options);
}
