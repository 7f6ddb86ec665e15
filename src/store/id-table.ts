// The task folders a long-running scanner knows, by name, with a small tag
// each (finished or not), in a few flat arrays instead of a JavaScript Set:
// a queue holds fifty thousand finished tasks, and a Set of their names costs
// some 120 bytes a name in objects the garbage collector walks (string
// header, hash table slots) against ~55 bytes here in one buffer it never
// looks inside. Exact: a name is compared byte for byte, never by hash alone.
//
// Task ids are ASCII (layout.ts's TASK_ID_PATTERN); a name with a character
// beyond latin-1 would not fit one byte a character and is kept in a small
// Map beside the table instead.

import { fnv1a } from "../fnv.js";

/** FNV-1a over bytes: fnv1a's value for the same latin-1 text. */
function hashBytes(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i += 1) h = Math.imul(h ^ (b[i] as number), 0x01000193);
  return h >>> 0;
}

function latin1(s: string): boolean {
  for (let i = 0; i < s.length; i += 1) if (s.charCodeAt(i) > 0xff) return false;
  return true;
}

const EMPTY = -1;
const REMOVED = -2;
/** An entry's tag once deleted (its bytes stay in the arena until compaction). */
const DEAD = 0xff;

export class IdTable {
  /** The names' bytes, one after another. */
  private arena: Buffer;
  private arenaUsed = 0;
  /** Per entry (in insertion order): start in the arena, length, hash, tag. */
  private starts: Int32Array;
  private lengths: Uint16Array;
  private hashes: Uint32Array;
  private tags: Uint8Array;
  private entries = 0;
  private dead = 0;
  /** Open addressing over entries: slot -> entry number, EMPTY or REMOVED. */
  private slots: Int32Array;
  private slotsRemoved = 0;
  private readonly overflow = new Map<string, number>();
  private readonly perTag = new Map<number, number>();
  /** Marks of a relist (beginMarks/mark/sweepUnmarked), per entry; null between relists. */
  private marks: Uint8Array | null = null;
  private overflowMarks: Set<string> | null = null;

  /** Room for `names` names of `bytes` bytes in all, made at once (no growing by doubling). */
  constructor(names = 256, bytes = 4096) {
    const n = Math.max(16, names + 64);
    this.arena = Buffer.alloc(Math.max(1024, bytes + 64 * 64));
    this.starts = new Int32Array(n);
    this.lengths = new Uint16Array(n);
    this.hashes = new Uint32Array(n);
    this.tags = new Uint8Array(n);
    let size = 32;
    while (size < n * 2) size *= 2;
    this.slots = new Int32Array(size).fill(EMPTY);
  }

  /**
   * A table whose names are the lines in the first `length` bytes of `lines`
   * (each ended by "\n"), all tagged `tag`: the buffer becomes the table's own
   * store of bytes (what lies beyond `length` is room to grow), nothing is
   * copied and no string is made. Room for an eighth more names is made too.
   */
  static fromLines(lines: Buffer, tag: number, length = lines.length): IdTable {
    let count = 0;
    for (let at = lines.indexOf(0x0a); at !== -1 && at < length; at = lines.indexOf(0x0a, at + 1)) count += 1;
    const table = new IdTable(count + (count >> 3), 0);
    table.arena = lines;
    table.arenaUsed = length;
    for (let start = 0; start < length; ) {
      let end = lines.indexOf(0x0a, start);
      if (end === -1 || end > length) end = length;
      if (end > start) {
        const hash = hashBytes(lines, start, end);
        const e = table.findBytes(lines, start, end, hash);
        if (e === -1) {
          if (table.entries === table.starts.length) table.reserve(0);
          table.starts[table.entries] = start;
          table.lengths[table.entries] = end - start;
          table.hashes[table.entries] = hash;
          table.tags[table.entries] = tag;
          table.place(table.entries, hash);
          table.entries += 1;
          table.bump(tag, 1);
        }
      }
      start = end + 1;
    }
    return table;
  }

  /** How many names are held. */
  get size(): number {
    return this.entries - this.dead + this.overflow.size;
  }

  /** How many names carry `tag`. */
  countOf(tag: number): number {
    return this.perTag.get(tag) ?? 0;
  }

  /** Bytes held by the table's arrays (what a test can bound). */
  get byteLength(): number {
    return this.arena.length + this.starts.byteLength + this.lengths.byteLength + this.hashes.byteLength + this.tags.byteLength + this.slots.byteLength + (this.marks?.byteLength ?? 0);
  }

  private bump(tag: number, by: number): void {
    this.perTag.set(tag, (this.perTag.get(tag) ?? 0) + by);
  }

  private sameAs(entry: number, id: string): boolean {
    if (this.lengths[entry] !== id.length) return false;
    const start = this.starts[entry] as number;
    for (let i = 0; i < id.length; i += 1) if (this.arena[start + i] !== id.charCodeAt(i)) return false;
    return true;
  }

  private sameBytes(entry: number, b: Uint8Array, start: number, end: number): boolean {
    if (this.lengths[entry] !== end - start) return false;
    const at = this.starts[entry] as number;
    for (let i = 0; i < end - start; i += 1) if (this.arena[at + i] !== b[start + i]) return false;
    return true;
  }

  /** The entry number holding `id`, or -1. */
  private find(id: string, hash: number): number {
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const e = this.slots[slot] as number;
      if (e === EMPTY) return -1;
      if (e >= 0 && this.hashes[e] === hash && this.sameAs(e, id)) return e;
    }
  }

  private findBytes(b: Uint8Array, start: number, end: number, hash: number): number {
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const e = this.slots[slot] as number;
      if (e === EMPTY) return -1;
      if (e >= 0 && this.hashes[e] === hash && this.sameBytes(e, b, start, end)) return e;
    }
  }

  private place(entry: number, hash: number): void {
    const mask = this.slots.length - 1;
    let slot = hash & mask;
    while ((this.slots[slot] as number) >= 0) slot = (slot + 1) & mask;
    if (this.slots[slot] === REMOVED) this.slotsRemoved -= 1;
    this.slots[slot] = entry;
  }

  /** Room for one more entry of `length` bytes; rebuilds the arrays when they are full or mostly dead. */
  private reserve(length: number): void {
    if (this.dead > 1024 && this.dead * 2 > this.entries) this.compact();
    if (this.entries === this.starts.length) {
      const grow = <T extends Int32Array | Uint16Array | Uint32Array | Uint8Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(Math.ceil(a.length * 1.5));
        b.set(a);
        return b;
      };
      this.starts = grow(this.starts);
      this.lengths = grow(this.lengths);
      this.hashes = grow(this.hashes);
      this.tags = grow(this.tags);
      if (this.marks) this.marks = grow(this.marks);
    }
    if (this.arenaUsed + length > this.arena.length) {
      const bigger = Buffer.alloc(Math.max(Math.ceil(this.arena.length * 1.5), this.arenaUsed + length));
      this.arena.copy(bigger, 0, 0, this.arenaUsed);
      this.arena = bigger;
    }
    // Keep the slots at most half full (removed slots count: they lengthen probes).
    if ((this.entries - this.dead + 1 + this.slotsRemoved) * 2 > this.slots.length) this.rehash();
  }

  private rehash(): void {
    let size = this.slots.length;
    while ((this.entries - this.dead + 1) * 2 > size) size *= 2;
    this.slots = new Int32Array(size).fill(EMPTY);
    this.slotsRemoved = 0;
    for (let e = 0; e < this.entries; e += 1) if (this.tags[e] !== DEAD) this.place(e, this.hashes[e] as number);
  }

  /** Drop dead entries and their bytes. */
  private compact(): void {
    let to = 0;
    let at = 0;
    for (let e = 0; e < this.entries; e += 1) {
      if (this.tags[e] === DEAD) continue;
      const start = this.starts[e] as number;
      const length = this.lengths[e] as number;
      this.arena.copy(this.arena, at, start, start + length);
      this.starts[to] = at;
      this.lengths[to] = length;
      this.hashes[to] = this.hashes[e] as number;
      this.tags[to] = this.tags[e] as number;
      if (this.marks) this.marks[to] = this.marks[e] as number;
      at += length;
      to += 1;
    }
    this.entries = to;
    this.arenaUsed = at;
    this.dead = 0;
    this.rehash();
  }

  private append(hash: number, length: number, tag: number): number {
    const e = this.entries;
    this.starts[e] = this.arenaUsed;
    this.lengths[e] = length;
    this.hashes[e] = hash;
    this.tags[e] = tag;
    if (this.marks) this.marks[e] = 1;
    this.arenaUsed += length;
    this.entries += 1;
    this.place(e, hash);
    this.bump(tag, 1);
    return e;
  }

  /** The tag of `id`, or undefined when it is not held. */
  get(id: string): number | undefined {
    if (!latin1(id)) return this.overflow.get(id);
    const e = this.find(id, fnv1a(id));
    return e === -1 ? undefined : (this.tags[e] as number);
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** Hold `id` with `tag` (0-254), replacing its tag if held. */
  set(id: string, tag: number): void {
    if (!latin1(id)) {
      const before = this.overflow.get(id);
      if (before !== undefined) this.bump(before, -1);
      this.overflowMarks?.add(id);
      this.overflow.set(id, tag);
      this.bump(tag, 1);
      return;
    }
    const hash = fnv1a(id);
    const e = this.find(id, hash);
    if (e !== -1) {
      this.bump(this.tags[e] as number, -1);
      this.tags[e] = tag;
      this.bump(tag, 1);
      if (this.marks) this.marks[e] = 1;
      return;
    }
    this.reserve(id.length);
    this.arena.write(id, this.arenaUsed, "latin1");
    this.append(hash, id.length, tag);
  }

  /** Hold the name in bytes [start, end) of `b` (ASCII) with `tag`: no string is made. */
  setBytes(b: Uint8Array, start: number, end: number, tag: number): void {
    const hash = hashBytes(b, start, end);
    const e = this.findBytes(b, start, end, hash);
    if (e !== -1) {
      this.bump(this.tags[e] as number, -1);
      this.tags[e] = tag;
      this.bump(tag, 1);
      return;
    }
    this.reserve(end - start);
    this.arena.set(b.subarray(start, end), this.arenaUsed);
    this.append(hash, end - start, tag);
  }

  delete(id: string): boolean {
    if (!latin1(id)) {
      const before = this.overflow.get(id);
      if (before === undefined) return false;
      this.bump(before, -1);
      return this.overflow.delete(id);
    }
    const hash = fnv1a(id);
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const e = this.slots[slot] as number;
      if (e === EMPTY) return false;
      if (e >= 0 && this.hashes[e] === hash && this.sameAs(e, id)) {
        this.bump(this.tags[e] as number, -1);
        this.tags[e] = DEAD;
        this.slots[slot] = REMOVED;
        this.slotsRemoved += 1;
        this.dead += 1;
        return true;
      }
    }
  }

  clear(): void {
    this.arena = Buffer.alloc(1024);
    this.arenaUsed = 0;
    this.starts = new Int32Array(16);
    this.lengths = new Uint16Array(16);
    this.hashes = new Uint32Array(16);
    this.tags = new Uint8Array(16);
    this.entries = 0;
    this.dead = 0;
    this.slots = new Int32Array(32).fill(EMPTY);
    this.slotsRemoved = 0;
    this.overflow.clear();
    this.perTag.clear();
    this.marks = null;
    this.overflowMarks = null;
  }

  /** The names held (with `tag` only, when given), made into strings one at a time. */
  *keys(tag?: number): IterableIterator<string> {
    for (let e = 0; e < this.entries; e += 1) {
      const t = this.tags[e] as number;
      if (t === DEAD || (tag !== undefined && t !== tag)) continue;
      const start = this.starts[e] as number;
      yield this.arena.toString("latin1", start, start + (this.lengths[e] as number));
    }
    for (const [id, t] of this.overflow) if (tag === undefined || t === tag) yield id;
  }

  /** Write every name with `tag` into `out`, each followed by "\n" (no string per name). */
  writeNames(tag: number, out: (chunk: Buffer) => void): void {
    for (let e = 0; e < this.entries; e += 1) {
      if (this.tags[e] !== tag) continue;
      const start = this.starts[e] as number;
      out(this.arena.subarray(start, start + (this.lengths[e] as number)));
    }
    for (const [id, t] of this.overflow) if (t === tag) out(Buffer.from(id, "utf8"));
  }

  // --- A relist: mark every name seen, then learn which held names were not seen.

  beginMarks(): void {
    this.marks = new Uint8Array(this.starts.length);
    this.overflowMarks = new Set();
  }

  /** Mark `id` as seen in this relist; its tag, or undefined when it is not held (and nothing is marked). */
  mark(id: string): number | undefined {
    if (!latin1(id)) {
      const tag = this.overflow.get(id);
      if (tag !== undefined) this.overflowMarks?.add(id);
      return tag;
    }
    const e = this.find(id, fnv1a(id));
    if (e === -1) return undefined;
    if (this.marks) this.marks[e] = 1;
    return this.tags[e] as number;
  }

  /** Names held but neither marked nor set since beginMarks(); ends the relist. */
  unmarked(): string[] {
    const missing: string[] = [];
    const marks = this.marks;
    const overflowMarks = this.overflowMarks;
    this.marks = null;
    this.overflowMarks = null;
    if (!marks || !overflowMarks) return missing;
    for (const id of this.overflow.keys()) if (!overflowMarks.has(id)) missing.push(id);
    for (let e = 0; e < this.entries; e += 1) {
      if (this.tags[e] === DEAD || marks[e] === 1) continue;
      const start = this.starts[e] as number;
      missing.push(this.arena.toString("latin1", start, start + (this.lengths[e] as number)));
    }
    return missing;
  }
}
