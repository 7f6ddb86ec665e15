// The browser guard (issue 11): a web page the user happens to visit must not
// reach the store. Three checks run before any route:
//   - Host: only the bound address, localhost, or a name given with
//     `serve --allow-host` (a DNS-rebinding page sends its own name);
//   - Origin: absent (curl, agents) or the server's own (the dashboard);
//   - Sec-Fetch-Site: a cross-site or same-site (another port) subresource
//     request is refused even where no Origin is sent (e.g. a GET from <img>).
// Bodies are JSON only (415 otherwise; see server.ts), so a form or a
// no-cors fetch can never carry one, and no CORS header is ever sent.

import net from "node:net";
import { isLoopbackHost } from "./auth.js";
import { HttpError } from "./errors.js";

export interface GuardOptions {
  /** The address the server is bound to (as given to listen). */
  boundHost: string;
  /** Extra host names allowed in Host (`serve --allow-host`). */
  allowHosts: readonly string[];
}

/** A host name without port and brackets, lower-cased; null when it cannot be parsed. */
export function hostName(hostHeader: string): string | null {
  const value = hostHeader.trim().toLowerCase();
  if (value === "") return null;
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    if (end === -1) return null;
    const rest = value.slice(end + 1);
    if (rest !== "" && !/^:\d{1,5}$/.test(rest)) return null;
    return value.slice(1, end);
  }
  const match = /^([^:]+)(?::(\d{1,5}))?$/.exec(value);
  return match?.[1] ?? null;
}

const WILDCARD = new Set(["0.0.0.0", "::", "0:0:0:0:0:0:0:0"]);

export interface Guard {
  /** Throws 403 (Host, Origin, Sec-Fetch-Site) for a request a browser page could have forged. */
  check(headers: Record<string, string | string[] | undefined>, isPageNavigation: boolean): void;
}

export function createGuard(options: GuardOptions): Guard {
  const bound = hostName(options.boundHost.includes(":") && !options.boundHost.startsWith("[") ? `[${options.boundHost}]` : options.boundHost);
  const allowed = new Set<string>(["localhost"]);
  if (bound) allowed.add(bound);
  for (const name of options.allowHosts) {
    const parsed = hostName(name);
    if (parsed) allowed.add(parsed);
  }
  const wildcard = bound !== null && WILDCARD.has(bound);
  // Bound to loopback under any of its names: the other loopback names reach the same socket.
  if (bound !== null && isLoopbackHost(bound)) for (const name of ["127.0.0.1", "::1"]) allowed.add(name);

  function hostAllowed(name: string): boolean {
    if (allowed.has(name)) return true;
    // Bound to every address: any IP literal names this machine (a rebinding page always sends a DNS name).
    return wildcard && net.isIP(name) !== 0;
  }

  return {
    check(headers, isPageNavigation) {
      const host = typeof headers.host === "string" ? headers.host : undefined;
      // A request without Host is no browser's (HTTP/1.1 browsers always send it).
      if (host !== undefined) {
        const name = hostName(host);
        if (name === null || !hostAllowed(name)) {
          throw new HttpError(
            403,
            `refused: Host ${JSON.stringify(host)} is not this server's address; use ${[...allowed].join(" or ")}, or start serve with --allow-host NAME`,
          );
        }
      }
      const origin = typeof headers.origin === "string" ? headers.origin : undefined;
      if (origin !== undefined && (host === undefined || origin.toLowerCase() !== `http://${host.toLowerCase()}`)) {
        throw new HttpError(403, `refused: cross-origin request from ${JSON.stringify(origin)}; the API answers only its own pages and non-browser clients`);
      }
      const site = headers["sec-fetch-site"];
      if ((site === "cross-site" || site === "same-site") && !isPageNavigation) {
        throw new HttpError(403, `refused: a ${site} request from a web page; the API answers only its own pages and non-browser clients`);
      }
    },
  };
}
