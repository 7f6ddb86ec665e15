// Class 7 of issue 11: tables keyed by task input are looked up by own
// property only. A model_class or effort of `constructor`, `__proto__` or
// `toString`, a lane named `constructor`, or such a vendor name must behave
// like any unknown key, never reach a JavaScript prototype.

import { describe, expect, it } from "vitest";
import { builtinVendorConfig, resolveVendorConfig } from "../../src/config/dispatch.js";
import { planSchedule } from "../../src/supervisor/schedule.js";
import type { Task } from "../../src/store/types.js";
import { VENDOR_DEFAULTS, effectiveTables, resolveEffort, resolveModel } from "../../vendors/defaults.js";
import { loadAdapter } from "../../vendors/registry.js";

const PROTO_KEYS = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"];

describe("model_class and effort tables", () => {
  it("prototype keys fall back to the default with a warning, for every built-in vendor", () => {
    for (const vendor of ["claude", "codex", "gemini"] as const) {
      const defaults = VENDOR_DEFAULTS[vendor];
      const { models, efforts } = effectiveTables(defaults, {});
      for (const key of PROTO_KEYS) {
        const warnings: string[] = [];
        const model = resolveModel(vendor, models, key, (m) => warnings.push(m));
        expect(model, `${vendor} model_class ${key}`).toBe(models.any ?? "");
        expect(typeof model).toBe("string");
        const effort = resolveEffort(vendor, efforts, defaults.defaultEffort, key, (m) => warnings.push(m));
        expect(typeof effort, `${vendor} effort ${key}`).toBe("string");
        expect(warnings.length, `${vendor} ${key}`).toBeGreaterThanOrEqual(1);
      }
    }
  });
});

describe("vendor names", () => {
  it("a vendor named after a prototype key is unknown, not a built-in", async () => {
    for (const key of PROTO_KEYS) {
      expect(builtinVendorConfig(key)).toEqual({});
      await expect(loadAdapter(key, { config: {} } as never)).rejects.toThrow(/unknown vendor/);
      expect(await resolveVendorConfig(key, { dispatchSection: { vendors: {} } })).toEqual({});
    }
  });
});

describe("lane limits", () => {
  it("a task on a lane named constructor is ready when no limit is set for it", async () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const task = { id: "t1", lane: "constructor", state: "queued", created_at: "2026-01-01T00:00:00Z", metadata: {} } as unknown as Task;
    const plan = await planSchedule({ claimable: [task], live: [task], now, laneLimits: { review: 1 }, lookup: async () => null } as never);
    expect(plan.ready.map((t) => t.id)).toEqual(["t1"]);
  });
});
