// Bundle the one-shot CLI into one script, dist/src/cli/agent-lanes.bundle.cjs,
// which dist/src/cli/main.cjs compiles with V8's code cache (src/cli/main.cts):
// one read and, from the second run on, no parse or compile of the code a
// command runs, instead of some forty module resolutions, loads and compiles.
// It sits beside the tsc output of program.js, so every path the code finds
// relative to its own module (package.json, templates/) resolves alike.
//
// The script is a function body in CommonJS form. Its loader passes in
// `require` (Node's built-ins, koffi), `__agentLanesUrl` (the bundle's URL,
// what `import.meta.url` means here) and `__agentLanesImport` (import() from
// the loader's module: a script compiled by vm has no module loader of its own).
//
// Left outside, loaded from the tsc output by their import():
// - what the long-running commands do (serve, dispatch, demo, service, mcp:
//   commands/*-run.ts; their flags are in the bundle): a one-shot command
//   should not compile a server and a supervisor. They bring their own module
//   graph (context, store) from dist/, so no object ever crosses between the
//   bundle's copy of a class and theirs.
// - koffi, a native module, loaded only by commands that take the lock;
//   tar (prune --archive): only a few
//   commands need them, and every command would otherwise compile them.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
/** What the long-running commands do (their flags are in the bundle, in serve.ts and so on). */
const LONG_RUNNING = /\/src\/cli\/commands\/(serve|dispatch|demo|service|mcp)-run\.js$/;
/**
 * What only rare commands import, by import(): doctor's checks, the vendor
 * adapters, the service backends and the worktree sweep of prune bring execa
 * and some 300 KB with them, the PostgreSQL store and the queue copy the pg driver (160 KB): every
 * command would read and deserialise them.
 */
const RARE = /\/(src\/doctor\/index|vendors\/registry|src\/supervisor\/worktrees|src\/config\/dispatch|src\/store\/postgres\/(store|copy-queue))\.js$/;
const outfile = path.join(root, "dist/src/cli/agent-lanes.bundle.cjs");

/**
 * Built-ins loaded on first use rather than when the bundle starts: node:crypto
 * brings some twenty internal modules and is needed only to hash or to make a
 * token; commander requires node:child_process (net, dgram, streams) for
 * executable subcommands, which this program has none of. A missing name
 * here fails the build (esbuild checks named imports).
 */
const LAZY_BUILTINS = {
  "node:crypto": ["createHash", "randomBytes", "randomUUID", "timingSafeEqual"],
  "node:child_process": ["spawn", "spawnSync", "execFile", "execFileSync", "fork"],
};
const lazyBuiltins = {
  name: "lazy-builtins",
  setup(b) {
    b.onResolve({ filter: /^node:(crypto|child_process)$/ }, (args) =>
      args.namespace === "lazy-builtin" ? { path: args.path, external: true } : { path: args.path, namespace: "lazy-builtin" },
    );
    b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (args) => ({
      loader: "js",
      contents:
        `let loaded;\nconst load = () => (loaded ??= require(${JSON.stringify(args.path)}));\n` +
        LAZY_BUILTINS[args.path].map((name) => `export function ${name}(...args) { return load().${name}(...args); }\n`).join("") +
        // commander's require() sees a plain object with these functions
        `export default { ${LAZY_BUILTINS[args.path].join(", ")} };\n`,
    }));
  },
};

await build({
  entryPoints: [new URL("../src/cli/program.ts", import.meta.url).pathname],
  outfile,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  external: ["koffi", "tar"],
  define: { "import.meta.url": "__agentLanesUrl" },
  plugins: [
    lazyBuiltins,
    {
      name: "long-running-commands-stay-outside",
      setup(b) {
        // A module kept outside stays in dist/, named relative to the bundle (which sits in dist/src/cli/).
        b.onResolve({ filter: /\.js$/ }, (args) => {
          if (args.kind !== "dynamic-import" || !args.path.startsWith(".")) return undefined;
          const target = path.resolve(args.resolveDir, args.path);
          if (!LONG_RUNNING.test(target) && !RARE.test(target)) return undefined;
          const built = path.join(root, "dist", path.relative(root, target));
          return { path: `./${path.relative(path.dirname(outfile), built)}`.replace(/^\.\/\.\.\//, "../"), external: true };
        });
      },
    },
  ],
  // BUNDLE_READABLE=1 keeps line breaks and the "// src/…" markers: a CPU profile then names the module of each function.
  minifyWhitespace: !process.env.BUNDLE_READABLE,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
});

// Every import() left in the script loads a module kept outside (above) or a
// vendor module by its URL; the loader's __agentLanesImport does it, relative
// to the bundle as import() was (a vm-compiled script has no module loader).
const text = readFileSync(outfile, "utf8");
writeFileSync(outfile, text.replace(/\bimport\(/g, "__agentLanesImport("));
// The ESM bundle of earlier builds is no longer loaded.
rmSync(new URL("../dist/src/cli/agent-lanes.bundle.js", import.meta.url).pathname, { force: true });
