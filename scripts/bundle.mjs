// Bundle the one-shot CLI into one file, dist/src/cli/agent-lanes.bundle.js,
// which dist/src/cli/main.js loads once Node's compile cache is on: one read
// and one compile instead of some forty module resolutions and loads per
// command. It sits beside the tsc output of program.js, so every path the code
// finds relative to its own module (package.json, templates/) resolves alike.
//
// Left outside, loaded from the tsc output by their import():
// - the long-running commands (serve, dispatch, demo, service): a one-shot
//   command should not compile a server and a supervisor. They bring their
//   own module graph (context, store) from dist/, so no object ever crosses
//   between the bundle's copy of a class and theirs.
// - koffi, a native module, loaded only by commands that take the lock;
//   chokidar (watchers of long waits) and tar (prune --archive): only a few
//   commands need them, and every command would otherwise compile them.
import { build } from "esbuild";

const LONG_RUNNING = /^\.\/commands\/(serve|dispatch|demo|service)\.js$/;

await build({
  entryPoints: [new URL("../src/cli/program.ts", import.meta.url).pathname],
  outfile: new URL("../dist/src/cli/agent-lanes.bundle.js", import.meta.url).pathname,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["koffi", "chokidar", "tar"],
  plugins: [
    {
      name: "long-running-commands-stay-outside",
      setup(b) {
        b.onResolve({ filter: LONG_RUNNING }, (args) => ({ path: args.path, external: true }));
      },
    },
  ],
  minifyWhitespace: true,
  minifySyntax: true,
  // Bundled CommonJS packages call require() for Node built-ins.
  banner: { js: 'import { createRequire as __agentLanesRequire } from "node:module"; const require = __agentLanesRequire(import.meta.url);' },
  legalComments: "none",
  logLevel: "warning",
});
