// The HTTP API (PROTOCOL.md §8) as a library: createServer over any Store.
export { createServer, type AgentLanesServer, type ListenResult, type ServerLogger, type ServerOptions } from "./server.js";
export { SERVER_DEFAULTS, TOKEN_ENV } from "./defaults.js";
export { createBearerCheck, isLoopbackHost } from "./auth.js";
export { HttpError, ServerConfigError } from "./errors.js";
