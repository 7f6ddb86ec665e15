// Timestamps in the protocol's form: ISO-8601 UTC with a `Z`, microseconds
// when non-zero (Python's datetime.isoformat()), and the compact form used in
// task ids. Microseconds come from the wall clock refined by the monotonic
// one, and are kept strictly increasing inside one process so ids made in a
// burst stay ordered.

let lastMicros = 0n;
/** The wall clock (µs) and the monotonic clock (ns) at the last anchoring. */
let anchorWallMicros = 0n;
let anchorHr = -1n;

/**
 * The wall clock in microseconds. Date.now() has milliseconds; the
 * monotonic clock (process.hrtime) adds the microseconds, counted from the
 * last time the two were anchored. The monotonic clock stops while the
 * machine sleeps and never follows a change of the wall clock, so when its
 * reckoning leaves the wall clock's current millisecond (a laptop that slept,
 * an NTP step), it is anchored again: a dispatcher left running overnight
 * writes leases by the wall clock, not hours behind it. (performance.now()
 * would do the same reckoning, never re-anchored, and loads perf_hooks.)
 */
function wallMicros(): bigint {
  const hr = process.hrtime.bigint();
  const wall = BigInt(Date.now()) * 1000n;
  const reckoned = anchorWallMicros + (hr - anchorHr) / 1000n;
  if (anchorHr >= 0n && reckoned >= wall && reckoned < wall + 1000n) return reckoned;
  anchorWallMicros = wall;
  anchorHr = hr;
  return wall;
}

/** Current time in microseconds since the epoch, strictly increasing per process. */
export function nowMicros(): bigint {
  const micros = wallMicros();
  lastMicros = micros > lastMicros ? micros : lastMicros + 1n;
  return lastMicros;
}

export function dateToMicros(date: Date): bigint {
  return BigInt(date.getTime()) * 1000n;
}

interface Parts {
  date: Date;
  micro: number;
}

function split(micros: bigint): Parts {
  const ms = micros / 1000n;
  const micro = Number(micros % 1_000_000n);
  return { date: new Date(Number(ms)), micro };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** `2026-11-24T05:18:09.213650Z`, or without the fraction when it is zero. */
export function formatIso(micros: bigint): string {
  const { date, micro } = split(micros);
  const base =
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  return micro === 0 ? `${base}Z` : `${base}.${pad(micro, 6)}Z`;
}

/** `20261124T051809211709Z`: the timestamp part of a task id. */
export function formatIdStamp(micros: bigint): string {
  const { date, micro } = split(micros);
  return (
    `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}${pad(micro, 6)}Z`
  );
}

export function isoNow(): string {
  return formatIso(nowMicros());
}

export function isoFromDate(date: Date): string {
  return formatIso(dateToMicros(date));
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/** Parse a protocol timestamp (with or without fraction, `Z` or an offset); null when unparseable. */
export function parseIso(text: unknown): Date | null {
  if (typeof text !== "string") return null;
  const m = ISO.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac = "", zone = "Z"] = m;
  const ms = Number((frac + "000").slice(0, 3));
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (zone !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  }
  return Number.isNaN(t) ? null : new Date(t);
}
