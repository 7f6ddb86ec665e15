// The config loaders' public surface: handoff.yaml, task files, submit merging,
// and the dispatch: section's vendor settings.

export { ConfigError } from "./errors.js";
export { ENGINE_DEFAULTS, loadEngineConfig } from "./handoff.js";
export type { EngineConfig, LaneConfig, LoadEngineConfigOptions } from "./handoff.js";
export { SUBMIT_DEFAULTS, TASK_FILE_KEYS, loadTaskFile, parseKeyValueFlags, resolveSubmit } from "./task-file.js";
export type { LoadedTaskFile, ResolvedSubmit, SubmitFlags, TaskDefinition } from "./task-file.js";
export * from "./dispatch.js";
