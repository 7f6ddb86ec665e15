// Generators shared by the fuzz suites: garbage text, YAML-ish token soup,
// values of any shape, and relative/absolute paths built from pieces that
// try to leave a workspace (.., absolute roots, ~, symlinks pointing out).

import fc from "fast-check";
import { stringify as toYaml } from "yaml";

/** Text of any kind: binary-ish code points, graphemes, control characters. */
export const garbageText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: "grapheme", maxLength: 80 }),
  fc.string({ maxLength: 80 }),
);

const YAML_TOKENS = [
  ":", ": ", "- ", "\n", "\n  ", "  ", "\t", "{", "}", "[", "]", ",", "&a ", "*a", "*b", "&b ", "!!binary ", "!!str ",
  "!!map ", "!!js/function ", "!custom ", "? ", "---\n", "...\n", "|\n", ">-\n", "# c\n", "'", '"', "%YAML 1.2\n", "%TAG ! x\n",
  "workspace_id", "lanes", "checkpoints", "queue_root", "workspace_root", "worktree_path", "expected_branch", "dispatch",
  "vendors", "metadata", "prompt_file", "prompt", "supporting_paths", "request_from", "response_to", "lane", "branch",
  "path", "description", "~", "..", "../..", "/", "/etc", "__proto__", "constructor", "<<", "null", "true", "0x1F", "1e400",
  ".nan", "-.inf", "2001-12-14", "\u0000", "\ufeff", "\u2028", "é", "\ud800", "x", "default", "7",
] as const;

/** Token soup that YAML parsers find interesting (anchors, aliases, tags, directives, keys we read). */
export const yamlishText: fc.Arbitrary<string> = fc
  .array(fc.constantFrom(...YAML_TOKENS), { maxLength: 40 })
  .map((tokens) => tokens.join(""));

/** Any value a YAML or JSON document can carry (and then some: -0, NaN, big numbers, odd keys). */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2, withNullPrototype: true, withObjectString: true }) },
);

/** Serialise a value as YAML or JSON (a JSON file is valid YAML); never throws. */
export function serialise(value: unknown, as: "yaml" | "json"): string {
  try {
    const text: unknown = as === "json" ? JSON.stringify(value) : toYaml(value);
    return typeof text === "string" ? text : "";
  } catch {
    return String(value);
  }
}

/** Path pieces for confinement fuzzing; `link-out` and `loop` exist in the fixtures of the suites that use them. */
const PATH_PIECES = [
  "..", ".", "", "a", "sub", "req.md", "prompts", "p.md", "link-out", "link-in", "loop", "secret.md", "~", "x y", "é",
  "...", "a..b", "%2e%2e", "\\..\\", "\u0000", "tasks",
] as const;

/** A path made of hostile pieces, sometimes absolute, sometimes under the workspace or the outside folder. */
export function hostilePath(roots: { inside: string; outside: string }): fc.Arbitrary<string> {
  const rel = fc.array(fc.constantFrom(...PATH_PIECES), { minLength: 1, maxLength: 6 }).map((pieces) => pieces.join("/"));
  return fc.oneof(
    { weight: 4, arbitrary: rel },
    { weight: 1, arbitrary: rel.map((r) => `${roots.inside}/${r}`) },
    { weight: 1, arbitrary: rel.map((r) => `${roots.outside}/${r}`) },
    { weight: 1, arbitrary: rel.map((r) => `/${r}`) },
    { weight: 1, arbitrary: rel.map((r) => `~/${r}`) },
    { weight: 1, arbitrary: garbageText },
  );
}
