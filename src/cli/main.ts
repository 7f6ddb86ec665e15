#!/usr/bin/env node
// Entry point of the agent-lanes command. It turns on Node's on-disk compile
// cache where Node has one (22.1 and later), then loads the program: static
// imports would be evaluated before the cache is on, hence the dynamic import.

import module from "node:module";

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
await import("./program.js");
