// Secrets out of every text wopack shows or writes (SPEC §12): the API key, credentials in a URL
// (`user:password@`) and tokens in a query string (an upload session's `upload_id` is one: it alone lets
// anyone write to the session). One function, used where a server's or a URL's words
// enter wopack's messages.

const MARK = "[redacted]";

/** Query parameters whose value is a credential (matched case-insensitively, `x-amz-signature` too). */
const SECRET_PARAM =
  /^(?:.*token|.*key|.*secret|.*signature|sig|password|passwd|pwd|auth|authorization|credentials?|code|upload_?id)$/i;

/** The secrets a URL carries: its userinfo and the values of its credential-like query parameters. */
export function secretsOf(url: string): string[] {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return [];
  }
  const found = [u.username, u.password].map((s) => safeDecode(s));
  for (const [name, value] of u.searchParams) if (SECRET_PARAM.test(name)) found.push(value);
  return found.filter((s) => s.length >= 3);
}

/**
 * `text` with each of `secrets` (as written and URL-encoded) replaced, and any URL userinfo or
 * credential-like query value in it replaced too, whether or not it was known.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s.length < 3) continue;
    for (const form of new Set([s, encodeURIComponent(s), encodeURI(s)])) out = out.split(form).join(MARK);
  }
  return redactParams(out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/?#\s@"'<>]*@/gi, `$1${MARK}@`));
}

/** Secret query parameters' values, also inside another parameter's value (`&next=https://…?upload_id=…`). */
function redactParams(text: string): string {
  return text.replace(/([?&;]([\w.-]+)=)([^&#\s"'<>]*)/g, (_, head: string, name: string, value: string) =>
    SECRET_PARAM.test(name) ? `${head}${MARK}` : `${head}${redactParams(value)}`,
  );
}

/** Whether redact() took something out of this text: a URL so written cannot be used. */
export function isRedacted(text: string): boolean {
  return text.includes(MARK);
}

/** A redactor bound to a key and a URL's secrets. */
export function redactor(key: string | undefined, ...urls: (string | undefined)[]): (text: string) => string {
  const secrets = [...(key ? [key] : []), ...urls.flatMap((u) => (u ? secretsOf(u) : []))];
  return (text) => redact(text, secrets);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
