// PostgreSQL queue addresses: which targets are database URLs and how they
// are shown (password masked). Loaded with every config, so it imports
// nothing; the host-local folder of a database queue is local-dir.ts's.

/** postgres://… or postgresql://… (the forms libpq and the pg driver accept). */
export function isPostgresUrl(target: unknown): target is string {
  return typeof target === "string" && /^postgres(?:ql)?:\/\//i.test(target.trim());
}

/** The URL with its password replaced by `***`, for messages and logs. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    // Not parseable: hide everything between "//user:" and "@".
    return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
  }
}

/** host:port/database of a URL, for folder names and short messages. */
export function urlLabel(url: string): string {
  try {
    const parsed = new URL(url);
    const db = decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "postgres";
    return `${parsed.hostname || "localhost"}:${parsed.port || "5432"}/${db}`;
  } catch {
    return "postgres";
  }
}
