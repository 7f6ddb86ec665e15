// Installs the pinned CLIs into the cache (a no-op when they are there) before any test runs.

import path from "node:path";
import { fileURLToPath } from "node:url";

export default async function setup(): Promise<void> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../scripts/install-real-clis.mjs");
  const { installRealClis } = (await import(script)) as { installRealClis(): Record<string, { version: string; bin: string }> };
  installRealClis();
}
