// The table the program registers commands from (src/cli/commands/core.ts):
// a command line defines only the group of the command it names, so each
// group's names must be exactly the commands its module defines, and the
// argument reading that picks the group must agree with commander's parse.

import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { COMMAND_GROUPS, groupOf, registerCommands } from "../../src/cli/commands/core.js";
import { readArgs } from "../../src/cli/program.js";

describe("the command table", () => {
  it("each group names exactly the top-level commands its module defines, in order", () => {
    for (const group of COMMAND_GROUPS) {
      const program = new Command("agent-lanes");
      registerCommands(program, [group]);
      expect(program.commands.map((cmd) => cmd.name()), group.names.join(",")).toEqual([...group.names]);
      for (const name of group.names) expect(groupOf(name)).toBe(group);
    }
  });

  it("all groups together define every command once, in the order of the top-level help", () => {
    const program = new Command("agent-lanes");
    registerCommands(program);
    const names = program.commands.map((cmd) => cmd.name());
    expect(names).toEqual(COMMAND_GROUPS.flatMap((group) => group.names));
    expect(new Set(names).size).toBe(names.length);
    expect(program.commands.flatMap((cmd) => cmd.aliases())).toEqual([]); // an alias would need a place in the table
    expect(groupOf("frobnicate")).toBeUndefined();
  });
});

describe("readArgs", () => {
  it("names the command after the global options and their values", () => {
    expect(readArgs(["status", "x", "--json"]).name).toBe("status");
    expect(readArgs(["--config", "status", "list"]).name).toBe("list");
    expect(readArgs(["--json", "--store", "/q", "--lock-timeout", "5", "submit"]).name).toBe("submit");
    expect(readArgs(["--json"]).name).toBeNull();
    expect(readArgs(["--", "status"]).name).toBe("status");
  });

  it("sees --version where commander acts on it: anywhere before --, unless it is a global option's value", () => {
    for (const args of [["--version"], ["-V"], ["submit", "--lane", "--version"], ["--bogus", "--version"], ["frob", "-V"]]) {
      expect(readArgs(args).version, args.join(" ")).toBe(true);
    }
    for (const args of [["--config", "--version"], ["--", "--version"], ["status", "--", "-V"], ["--version=1"]]) {
      expect(readArgs(args).version, args.join(" ")).toBe(false);
    }
    // A combined short flag is left to commander, with every command defined.
    expect(readArgs(["-Vx"]).version).toBe(false);
  });
});
