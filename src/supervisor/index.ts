// The dispatcher's public surface (meant for a package subpath such as
// `agent-lanes/dispatcher`, so the library entry never loads pino or execa).
export { startDispatcher, type Dispatcher, type DispatcherDeps, type DispatcherStats, type StartDispatcherOptions } from "./supervisor.js";
export { DISPATCH_DEFAULTS, OptionsError, resolveOptions, type DispatcherOptions, type ResolvedOptions } from "./options.js";
export { runChild, type KillReason, type RunChildOptions } from "./run-child.js";
export { buildInput, walkThread } from "./input.js";
export { LeaseLostError } from "./lease-keeper.js";
