#!/usr/bin/env node
// Entry point of the agent-lanes command. It turns on Node's on-disk compile
// cache where Node has one (22.1 and later), then loads the program: the
// one-file bundle `npm run build` makes (scripts/bundle.mjs) when it is there,
// else the program's own modules (a checkout built by tsc alone, vitest).
// Static imports would be evaluated before the cache is on, hence the dynamic import.

import { existsSync } from "node:fs";
import module from "node:module";

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
const bundle = new URL("./agent-lanes.bundle.js", import.meta.url);
await (existsSync(bundle) ? import(bundle.href) : import("./program.js"));
