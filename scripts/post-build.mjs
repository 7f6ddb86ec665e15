// After tsc: make the CLI entries executable (tsc drops the mode) and put the
// dashboard's front end into dist/dashboard — the page, its script and style
// from src/dashboard/web, and the few vendor modules it imports (Preact + htm,
// marked, DOMPurify, uPlot), so the package serves every asset itself.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// The bin (main.cjs) starts as a /bin/sh script whose lines after #! are also
// JavaScript no-ops (a string, then a comment): the shell execs Node on the
// same file, which Node reads as JavaScript (it skips the #! line).
// - NODE_EXTRA_CA_CERTS is moved aside: Node 20 would parse that file at
//   every start; main.cjs puts it back at once and the TLS code adds the file
//   when it connects (src/extra-ca-certs.ts). Left alone when NODE_OPTIONS
//   chooses another root store.
const LAUNCHER = [
  "#!/bin/sh",
  "':' //; # agent-lanes: each line here is a shell command and a JavaScript no-op (scripts/post-build.mjs)",
  `':' //; case "\${NODE_EXTRA_CA_CERTS:+set} \${NODE_OPTIONS-}" in "set "*--use-openssl-ca*|"set "*--use-system-ca*|"set "*--use-bundled-ca*|" "*) ;; *) AGENT_LANES_DEFERRED_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS; export AGENT_LANES_DEFERRED_EXTRA_CA_CERTS; unset NODE_EXTRA_CA_CERTS;; esac`,
  `':' //; exec node "$0" "$@"`,
];
const mainCjs = path.join(root, "dist/src/cli/main.cjs");
if (existsSync(mainCjs)) {
  const lines = readFileSync(mainCjs, "utf8").split("\n");
  if (lines[0].startsWith("#!")) lines.shift();
  while (lines[0].startsWith("':' //;")) lines.shift();
  writeFileSync(mainCjs, [...LAUNCHER, ...lines].join("\n"));
}
for (const entry of ["main.cjs", "main.js"]) {
  const bin = path.join(root, "dist/src/cli", entry);
  if (existsSync(bin)) chmodSync(bin, 0o755);
}

const out = path.join(root, "dist/dashboard");
mkdirSync(path.join(out, "vendor"), { recursive: true });
const web = path.join(root, "src/dashboard/web");
for (const name of readdirSync(web)) copyFileSync(path.join(web, name), path.join(out, name));

/** A file inside an installed package (node_modules beside the repository). */
const fromPackage = (pkg, file) => path.join(root, "node_modules", pkg, file);
const VENDOR = {
  "htm-preact.js": fromPackage("htm", "preact/standalone.module.js"),
  "marked.js": fromPackage("marked", "lib/marked.esm.js"),
  "purify.js": fromPackage("dompurify", "dist/purify.es.mjs"),
  "uPlot.js": fromPackage("uplot", "dist/uPlot.esm.js"),
  "uPlot.css": fromPackage("uplot", "dist/uPlot.min.css"),
};
for (const [name, source] of Object.entries(VENDOR)) {
  if (!existsSync(source)) {
    console.error(`post-build: ${source} is missing: run npm install (the dashboard needs it)`);
    process.exit(1);
  }
  copyFileSync(source, path.join(out, "vendor", name));
}
