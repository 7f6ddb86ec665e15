// Bearer-token checking and the loopback test that decides whether a token
// is mandatory.

import { createHash, timingSafeEqual } from "node:crypto";
import net from "node:net";

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/**
 * A check of an `Authorization` header against `token`. Both sides are hashed
 * first so the constant-time comparison runs over equal lengths and the
 * token's length does not leak through timing.
 */
export function createBearerCheck(token: string): (authorization: string | undefined) => boolean {
  const expected = digest(token);
  return (authorization) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "");
    // Compare even without a well-formed header, so every refusal costs the same.
    const same = timingSafeEqual(digest(match?.[1] ?? ""), expected);
    return match !== null && same;
  };
}

/** True for addresses only this host can reach: localhost, 127.0.0.0/8, ::1 (and its IPv4-mapped form). */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost") return true;
  if (net.isIPv4(h)) return h.startsWith("127.");
  if (net.isIPv6(h)) return h === "::1" || h === "0:0:0:0:0:0:0:1" || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h);
  return false;
}
