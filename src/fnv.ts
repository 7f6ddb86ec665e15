// FNV-1a, 32 bits: a fast, non-cryptographic hash of a string's char codes
// (the bytes, for latin-1 text). For names and table slots, never for trust.

/** FNV-1a of `text`'s char codes, as an unsigned 32-bit number. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** fnv1a as 8 hex digits (a file name's tag). */
export function fnv1aHex(text: string): string {
  return fnv1a(text).toString(16).padStart(8, "0");
}
