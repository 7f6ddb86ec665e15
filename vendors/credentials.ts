// Recognises a vendor CLI that cannot authenticate: not logged in, an
// invalid, expired or revoked key or token, a 401/403 from the API. Such a
// run says nothing about the task, and every other task would fail the same
// way, so the outcome is `needs-login`: the supervisor releases the task
// without counting the attempt and pauses the vendor (kind `needs-login`)
// until someone logs in. Like limits, this is only looked for on a failed
// run's error channel, never in a successful answer.

import type { Outcome } from "./types.js";

/** What a login failure said, and what the person at the keyboard should do. */
export interface CredentialsMatch {
  /** The CLI's own line, trimmed and capped. */
  message: string;
  /** One sentence: the command or setting that fixes it. */
  fix: string;
}

const MESSAGE_MAX_CHARS = 300;

// One line of a failed run's output that means "these credentials do not work".
const LOGIN_PATTERNS: readonly RegExp[] = [
  /\bnot (?:logged|signed) in\b/i,
  /\bplease run \/login\b/i,
  /\b(?:run|use) [`'"]?(?:claude|codex|gemini|agy)(?: auth)? \/?login\b/i,
  /\binvalid (?:api[ _-]?key|x-api-key|bearer token|access token|authentication credentials)\b/i,
  /\bincorrect api key provided\b/i,
  /\binvalid_api_key\b/i,
  /\bapi key not valid\b/i,
  /\bAPI_KEY_INVALID\b/,
  /\bauthentication_error\b/i,
  /\b(?:oauth )?(?:access |refresh )?token (?:has )?(?:expired|been revoked|is expired|is invalid|revoked)\b/i,
  /\bUNAUTHENTICATED\b/,
  /\b401\b[^\n]{0,40}\bunauthori[sz]ed\b|\bunauthori[sz]ed\b[^\n]{0,40}\b401\b/i,
  /\b(?:status|code|error)[ :=]*401\b|\b401 \{/i,
  /\bAPI Error: 40[13]\b/i,
  /\b403\b[^\n]{0,40}\bforbidden\b|\bforbidden\b[^\n]{0,40}\b403\b/i,
  /\bmissing (?:api[ _-]?key|credentials)\b|\bno (?:api[ _-]?key|credentials) (?:found|provided|configured)\b/i,
];

/** Each built-in vendor's way back in; unknown vendors get a generic sentence. */
const FIXES: Readonly<Record<string, string>> = {
  claude: "run `claude /login` as the dispatcher's user (or give it ANTHROPIC_API_KEY / CLAUDE_CODE_OAUTH_TOKEN in dispatch.vendors.claude.env)",
  codex: "run `codex login` as the dispatcher's user (or give it OPENAI_API_KEY, or the provider's env_key, in dispatch.vendors.codex.env)",
  gemini: "run `gemini` once as the dispatcher's user and sign in (or set GEMINI_API_KEY in dispatch.vendors.gemini.env)",
  agy: "run `agy` once as the dispatcher's user and sign in with your Google account",
};

/** The fix sentence for `vendor`, ending with how to wake the dispatchers. */
export function loginFix(vendor: string): string {
  const own = Object.hasOwn(FIXES, vendor) ? FIXES[vendor] : `log the ${vendor} CLI in again as the dispatcher's user`;
  return `${own}, then \`agent-lanes resume --vendor ${vendor}\``;
}

/** The first line of `text` that says the CLI is not logged in or its key is refused; null if none does. */
export function detectCredentialsFailure(text: string, vendor: string): CredentialsMatch | null {
  if (!text) return null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line !== "" && LOGIN_PATTERNS.some((pattern) => pattern.test(line))) {
      return { message: line.slice(0, MESSAGE_MAX_CHARS), fix: loginFix(vendor) };
    }
  }
  return null;
}

/** True for the HTTP statuses that mean the credentials were refused. */
export function isCredentialsStatus(status: number | undefined): boolean {
  return status === 401 || status === 403;
}

/** A needs-login outcome from a match (the adapters' shared shape). */
export function needsLogin(match: CredentialsMatch, metadata: Record<string, unknown> = {}): Outcome {
  return { kind: "needs-login", message: match.message, fix: match.fix, metadata };
}
