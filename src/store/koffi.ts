// koffi, the FFI library behind flock(2) (lock.ts) and posix_spawn
// (supervisor/libc.ts), loaded once, on first use. Where the package ships a
// native module for this platform, that file is loaded directly: koffi's own
// index.js first loads the helpers of its installer (node:https, zlib,
// crypto) only to find the same file, about 6 ms of CPU in every command
// that writes. Anything unexpected (another layout, another version of the
// native module, a system whose C library cannot load it, such as musl)
// falls back to require("koffi"), which knows every case.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

export interface Koffi {
  load(name: string): { func(signature: string): unknown };
}

/** process.arch values whose folder koffi names the same (others, such as arm and riscv64, go through koffi's index.js). */
const SAME_NAME_ARCHS = new Set(["x64", "arm64", "ia32"]);

let loaded: Koffi | undefined;

/** The native module of the installed koffi package, or null to let koffi's index.js find it. */
function nativeModule(require: NodeJS.Require): Koffi | null {
  if (!SAME_NAME_ARCHS.has(process.arch)) return null;
  try {
    const manifest = require.resolve("koffi/package.json");
    const { version } = JSON.parse(readFileSync(manifest, "utf8")) as { version?: string };
    const native = require(path.join(path.dirname(manifest), "build", "koffi", `${process.platform}_${process.arch}`, "koffi.node")) as Koffi & { version?: string };
    // koffi's index.js refuses a native module of another version; so does this.
    return typeof native.load === "function" && native.version === version ? native : null;
  } catch {
    return null;
  }
}

/** koffi (throws when it cannot load at all). */
export function loadKoffi(): Koffi {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  loaded = nativeModule(require) ?? (require("koffi") as Koffi);
  return loaded;
}

let libcHandle: { func(signature: string): unknown } | undefined;

/**
 * A function of the C library (flock, posix_spawn, malloc_trim...) by its C
 * signature; the library is loaded once for all of them. Throws when koffi
 * or the function cannot be loaded: callers decide what that means.
 */
export function libcFunction<T>(signature: string): T {
  libcHandle ??= loadKoffi().load(process.platform === "darwin" ? "libc.dylib" : "libc.so.6");
  return libcHandle.func(signature) as T;
}
