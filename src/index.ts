// Library entry point: the store (open a queue, the Store interface and its
// types), and the adapter contract for vendor plugins.
export * from "./store/index.js";
export type { VendorAdapter, AdapterFactory, RunContext, VendorConfig, Invocation, ChildResult, Outcome } from "../vendors/types.js";
