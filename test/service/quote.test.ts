import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  parseSystemdWords,
  systemdEnvironment,
  systemdExecLine,
  systemdExecWord,
  xmlEscape,
  xmlUnescape,
} from "../../src/service/quote.js";

// Printable text without control characters: what a path can hold once spec validation has run.
const printable = fc.string({ unit: fc.constantFrom(..." \"'\\%$;&<>abc/.-_éz\u2603", "A", "0"), maxLength: 30 });

describe("systemd quoting", () => {
  it("leaves plain absolute paths unquoted and readable", () => {
    expect(systemdExecWord("/usr/bin/node")).toBe("/usr/bin/node");
    expect(systemdExecWord("--vendor")).toBe("--vendor");
  });

  it("quotes spaces and doubles % and $ so specifiers and variables stay literal", () => {
    expect(systemdExecWord("/a b/50%/$HOME")).toBe('"/a b/50%%/$$HOME"');
    expect(systemdExecWord('say "hi" \\ now')).toBe('"say \\"hi\\" \\\\ now"');
    expect(systemdExecWord("")).toBe('""');
  });

  it("Environment= doubles % but keeps $ (systemd does not expand variables there)", () => {
    expect(systemdEnvironment("PATH", "/a b:/c%d:/$x")).toBe('"PATH=/a b:/c%%d:/$x"');
  });

  it("an ExecStart line parses back to the same argv for any printable words", () => {
    const executable = printable.filter((file) => !/["'\\]/.test(file)).map((file) => `/${file}`);
    fc.assert(
      fc.property(executable, fc.array(printable, { maxLength: 6 }), (file, args) => {
        expect(parseSystemdWords(systemdExecLine([file, ...args]), { exec: true })).toEqual([file, ...args]);
      }),
    );
  });

  it("the executable keeps a literal $ (systemd expands no variables there) and refuses quotes", () => {
    expect(systemdExecLine(["/opt/a$b c/node", "$x"])).toBe('"/opt/a$b c/node" "$$x"');
    expect(() => systemdExecLine(['/opt/"q"/node'])).toThrow(/quotes or backslashes/);
  });

  it("an Environment= value parses back to NAME=value", () => {
    fc.assert(
      fc.property(printable, (value) => {
        expect(parseSystemdWords(systemdEnvironment("PATH", value))).toEqual([`PATH=${value}`]);
      }),
    );
  });
});

describe("plist XML escaping", () => {
  it("escapes the five XML specials", () => {
    expect(xmlEscape(`a&b<c>d"e'f`)).toBe("a&amp;b&lt;c&gt;d&quot;e&apos;f");
  });

  it("round-trips any printable text, and reads numeric references", () => {
    fc.assert(
      fc.property(printable, (value) => {
        expect(xmlUnescape(xmlEscape(value))).toBe(value);
      }),
    );
    expect(xmlUnescape("&#38;&#x3C;")).toBe("&<");
  });
});
