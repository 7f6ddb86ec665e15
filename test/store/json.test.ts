import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { toJsonFile, toJsonLine } from "../../src/store/json.js";

const hasPython = (() => {
  try {
    execFileSync("python3", ["-c", "pass"]);
    return true;
  } catch {
    return false;
  }
})();

function python(value: unknown, indent: boolean): string {
  const code = indent
    ? "import json,sys; sys.stdout.write(json.dumps(json.load(sys.stdin), indent=2, sort_keys=True) + '\\n')"
    : "import json,sys; sys.stdout.write(json.dumps(json.load(sys.stdin), sort_keys=True))";
  return execFileSync("python3", ["-c", code], { input: JSON.stringify(value) }).toString();
}

const sample = {
  zeta: 1,
  alpha: { nested: [1, "two", null, true, { b: 2, a: 1 }], empty: {}, list: [] },
  text: 'quote " backslash \\ tab \t newline \n é ✓ 𝄞 \u0001',
  Upper: false,
  n: -3.25,
};

describe.runIf(hasPython)("JSON style matches Python's json.dumps(sort_keys=True)", () => {
  it("files: indent 2, sorted keys, trailing newline, byte for byte", () => {
    expect(toJsonFile(sample)).toBe(python(sample, true));
  });
  it("event lines: compact with ', ' and ': ' separators", () => {
    expect(toJsonLine(sample)).toBe(python(sample, false));
  });
});

describe("JSON style", () => {
  it("round-trips through JSON.parse", () => {
    expect(JSON.parse(toJsonFile(sample))).toEqual(sample);
    expect(toJsonFile({ b: 1, a: 2 })).toBe('{\n  "a": 2,\n  "b": 1\n}\n');
  });
});

describe("the fast indent-2 encoder", () => {
  it("writes exactly what the reference encoder writes, for any JSON value (fast-check)", async () => {
    const fc = await import("fast-check");
    const { toPythonJson, toPythonJsonReference } = await import("../../src/store/json.js");
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: "binary" }), (value, text) => {
        expect(toPythonJson(value, 2)).toBe(toPythonJsonReference(value, 2));
        expect(toPythonJson({ text, [text]: [value] }, 2)).toBe(toPythonJsonReference({ text, [text]: [value] }, 2));
      }),
      { numRuns: 500 },
    );
  });

  it("drops undefined members, turns undefined items and non-finite numbers into null, applies toJSON", async () => {
    const { toPythonJson, toPythonJsonReference } = await import("../../src/store/json.js");
    const value = { b: undefined, a: [undefined, Number.NaN, Infinity, -0], when: new Date(0), é: "ü\u007f" };
    expect(toPythonJson(value, 2)).toBe(toPythonJsonReference(value, 2));
    expect(toPythonJson(value, 2)).toContain('"\\u00e9": "\\u00fc\\u007f"');
  });
});
