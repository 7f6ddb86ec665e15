// The flat table of task names a long-running scanner keeps: exact lookups
// (never by hash alone), tags, deletion and compaction, the marks of a
// relist, and a size of a few dozen bytes a name.

import { describe, expect, it } from "vitest";
import { IdTable } from "../../src/store/id-table.js";

const id = (i: number): string => `20260101T${String(i).padStart(6, "0")}000000Z-done${i}-0123456789ab`;

describe("IdTable", () => {
  it("holds names with their tags, tells held from not held exactly, and forgets deleted ones", () => {
    const t = new IdTable();
    for (let i = 0; i < 5000; i += 1) t.set(id(i), i % 3 === 0 ? 1 : 0);
    expect(t.size).toBe(5000);
    expect(t.countOf(1)).toBe(1667);
    expect(t.get(id(3))).toBe(1);
    expect(t.get(id(4))).toBe(0);
    expect(t.get(`${id(4)}x`)).toBeUndefined();
    expect(t.get(id(4).slice(0, -1))).toBeUndefined();
    t.set(id(4), 1);
    expect(t.get(id(4))).toBe(1);
    expect(t.countOf(1)).toBe(1668);
    expect(t.delete(id(4))).toBe(true);
    expect(t.delete(id(4))).toBe(false);
    expect(t.has(id(4))).toBe(false);
    expect(t.size).toBe(4999);
    expect(t.countOf(1)).toBe(1667);
    expect([...t.keys(1)]).toHaveLength(1667);
    expect(new Set(t.keys()).size).toBe(4999);
  });

  it("deleting most names and adding others keeps every lookup right (compaction)", () => {
    const t = new IdTable();
    for (let i = 0; i < 6000; i += 1) t.set(id(i), 1);
    for (let i = 0; i < 5000; i += 1) t.delete(id(i));
    for (let i = 6000; i < 9000; i += 1) t.set(id(i), 0);
    expect(t.size).toBe(4000);
    for (let i = 0; i < 9000; i += 1) expect(t.get(id(i))).toBe(i < 5000 ? undefined : i < 6000 ? 1 : 0);
    expect([...t.keys()].sort()).toEqual(Array.from({ length: 4000 }, (_, k) => id(k + 5000)).sort());
  });

  it("a name given as bytes is the same name as the string", () => {
    const t = new IdTable(2, 100);
    const bytes = Buffer.from(`${id(1)}\n${id(2)}\n`);
    t.setBytes(bytes, 0, id(1).length, 1);
    t.setBytes(bytes, id(1).length + 1, bytes.length - 1, 1);
    expect(t.get(id(1))).toBe(1);
    expect(t.get(id(2))).toBe(1);
    t.set(id(2), 0);
    expect(t.size).toBe(2);
  });

  it("a table made from lines keeps the buffer as its store and takes each name once", () => {
    const lines = Buffer.from(`${id(1)}\n${id(2)}\n\n${id(1)}\n${id(3)}\n`);
    const t = IdTable.fromLines(lines, 1);
    expect(t.size).toBe(3);
    expect(t.countOf(1)).toBe(3);
    expect([...t.keys()]).toEqual([id(1), id(2), id(3)]);
    t.set(id(4), 0); // grows past the given buffer
    t.delete(id(2));
    expect([...t.keys()].sort()).toEqual([id(1), id(3), id(4)].sort());
    expect(t.get(id(4))).toBe(0);
  });

  it("a relist's marks name exactly the held names not seen again", () => {
    const t = new IdTable();
    for (let i = 0; i < 100; i += 1) t.set(id(i), 1);
    t.set("ünïcode-€-name", 0); // beyond latin-1: kept aside, still swept
    t.beginMarks();
    for (let i = 0; i < 100; i += 1) if (i % 10 !== 0) expect(t.mark(id(i))).toBe(1);
    expect(t.mark("not-held")).toBeUndefined();
    t.set(id(500), 0); // added during the relist: seen
    expect(t.unmarked().sort()).toEqual([...Array.from({ length: 10 }, (_, k) => id(k * 10)), "ünïcode-€-name"].sort());
    expect(t.unmarked()).toEqual([]); // the marks ended
  });

  it("fifty thousand task ids cost under 90 bytes a name, in no object per name", () => {
    const t = new IdTable(50_000, 50_000 * (id(0).length + 1));
    for (let i = 0; i < 50_000; i += 1) t.set(id(i), 1);
    expect(t.size).toBe(50_000);
    expect(t.byteLength / 50_000).toBeLessThan(90);
  });
});
