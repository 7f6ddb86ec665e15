// The dashboard's routes: the page and its assets at `/`, the read API it
// uses, its actions and the `GET /events` stream.

import type { FastifyInstance } from "fastify";
import type { Route, RouteDeps } from "./routes.js";
import type { ServerLogger } from "./server.js";

export interface DashboardOptions {
  deps: RouteDeps;
  addRoute(route: Route): void;
  /** Paths served without the token (the page shell and its static assets). */
  publicPaths: Set<string>;
  user: string | undefined;
  logger: ServerLogger;
  isStopping(): boolean;
  safetyPollMs: number;
}

export interface DashboardHandle {
  /** End every open event stream. */
  close(): void;
}

export function registerDashboard(_app: FastifyInstance, _options: DashboardOptions): DashboardHandle {
  return { close() {} };
}
