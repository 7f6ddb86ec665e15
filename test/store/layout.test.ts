import { describe, expect, it } from "vitest";
import { assertTaskId, confine, isValidTaskId, makeTaskId, slug } from "../../src/store/layout.js";
import { formatIdStamp, formatIso, parseIso } from "../../src/store/time.js";

describe("slug", () => {
  it("collapses runs of other characters to one dash and trims dashes", () => {
    expect(slug("  review: the/api  ")).toBe("review-the-api");
    expect(slug("a__b.c-d")).toBe("a__b.c-d");
    expect(slug("--x--")).toBe("x");
  });
  it("falls back to item when nothing is left", () => {
    expect(slug("")).toBe("item");
    expect(slug(" / ")).toBe("item");
  });
});

describe("task ids", () => {
  it("are made of the stamp, the slug and 12 hex of the request hash", () => {
    expect(makeTaskId("20261124T051809211709Z", "default", "6b1387b40624ffff")).toBe("20261124T051809211709Z-default-6b1387b40624");
  });
  it.each(["../x", "a/b", ".hidden", "", "a..b", "-x", "x y", "a\u0000b"])("refuses %j with invalid task_id", (bad) => {
    expect(isValidTaskId(bad)).toBe(false);
    expect(() => assertTaskId(bad)).toThrow(/invalid task_id/);
  });
  it.each(["20261124T051809211709Z-default-6b1387b40624", "a", "A.b_c-1"])("accepts %j", (good) => {
    expect(() => assertTaskId(good)).not.toThrow();
  });
});

describe("timestamps", () => {
  it("print microseconds only when non-zero, like Python's isoformat", () => {
    expect(formatIso(1795497489213650n)).toBe("2026-11-24T05:18:09.213650Z");
    expect(formatIso(1795497489000000n)).toBe("2026-11-24T05:18:09Z");
    expect(formatIdStamp(1795497489211709n)).toBe("20261124T051809211709Z");
  });
  it("parse with and without a fraction, Z or an offset", () => {
    expect(parseIso("2026-11-24T05:18:09Z")?.toISOString()).toBe("2026-11-24T05:18:09.000Z");
    expect(parseIso("2026-11-24T05:18:09.213650Z")?.toISOString()).toBe("2026-11-24T05:18:09.213Z");
    expect(parseIso("2026-11-24T07:18:09+02:00")?.toISOString()).toBe("2026-11-24T05:18:09.000Z");
    expect(parseIso("yesterday")).toBeNull();
  });
});

describe("confine", () => {
  it("resolves relative paths against the workspace root", () => {
    expect(confine("request_path", "a/b.md", "/w")).toBe("/w/a/b.md");
  });
  it("refuses a path that escapes, naming the field", () => {
    expect(() => confine("response_path", "../etc/passwd", "/w")).toThrow(/response_path is outside workspace_root/);
    expect(() => confine("request_path", "/etc/passwd", "/w")).toThrow(/request_path is outside workspace_root/);
    expect(() => confine("request_path", "/wx/a", "/w")).toThrow(/outside workspace_root/);
  });
});
