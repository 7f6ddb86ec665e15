// The PostgreSQL schema's migrations (src/store/postgres/migrations.ts),
// checked without a server: numbered 1..n in order, each applied once, and
// never destructive (no DROP, TRUNCATE or DELETE of queue data, no column
// type change). The migrations against a real server are in test/postgres/.

import { describe, expect, it } from "vitest";
import { MIGRATIONS, SCHEMA_VERSION } from "../../src/store/postgres/migrations.js";
import { localStateDir } from "../../src/store/postgres/local-dir.js";
import { isPostgresUrl, maskUrl } from "../../src/store/postgres/url.js";

describe("PostgreSQL migrations", () => {
  it("are numbered 1..n without gaps, each with a name", () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    for (const m of MIGRATIONS) expect(m.name.trim()).not.toBe("");
  });

  it("never destroy data", () => {
    for (const m of MIGRATIONS) {
      const sql = m.sql.replace(/--.*$/gm, "");
      expect(sql, `migration ${m.version}`).not.toMatch(/\bDROP\b|\bTRUNCATE\b|\bDELETE\s+FROM\b/i);
      expect(sql, `migration ${m.version}`).not.toMatch(/ALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE/i);
      // Everything lives in the agent_lanes schema.
      for (const [, name] of sql.matchAll(/CREATE\s+TABLE\s+(\S+)/gi)) expect(name).toMatch(/^agent_lanes\./);
    }
  });
});

describe("PostgreSQL URLs", () => {
  it("are told from folders, and shown with the password masked", () => {
    expect(isPostgresUrl("postgres://u@h/db")).toBe(true);
    expect(isPostgresUrl("postgresql://u@h/db")).toBe(true);
    expect(isPostgresUrl("POSTGRES://u@h/db")).toBe(true);
    expect(isPostgresUrl("handoff/state")).toBe(false);
    expect(isPostgresUrl("/var/postgres://x")).toBe(false);
    expect(maskUrl("postgres://agent:hunter2@db.internal:5433/lanes?sslmode=require")).toBe("postgres://agent:***@db.internal:5433/lanes?sslmode=require");
    expect(maskUrl("postgres://agent@db.internal/lanes")).toBe("postgres://agent@db.internal/lanes");
    expect(maskUrl("postgres://agent:p%40ss@[::1/lanes")).toBe("postgres://agent:***@[::1/lanes");
  });

  it("get a host-local state folder per database, the same for the same URL", () => {
    const env = { XDG_STATE_HOME: "/home/u/.local/state" };
    const a = localStateDir("postgres://agent:x@db.internal:5433/lanes", env);
    expect(a).toMatch(/^\/home\/u\/\.local\/state\/agent-lanes\/postgres\/db\.internal_5433_lanes-[0-9a-f]{8}$/);
    expect(localStateDir("postgres://agent:y@db.internal:5433/lanes", env)).toBe(a);
    expect(localStateDir("postgres://agent@db.internal:5433/other", env)).not.toBe(a);
    expect(localStateDir("postgres://h/db", { AGENT_LANES_STATE_DIR: "/srv/al" })).toMatch(/^\/srv\/al\/postgres\/h_5432_db-/);
  });
});
