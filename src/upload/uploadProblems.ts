// How one archive's upload ends when it does not end uploaded: the errors the sender throws inside, and the
// problems they carry, each worded once (status words "needs attention" with the same builder).
import type { MaybeBatches } from "../commit/uploads.js";
import { interruptedError, type Problem, problem, WopackError } from "../core/errors.js";

export class ArchiveFailed extends Error {
  /** `retryAfterMs`: the platform asked to wait this long (Retry-After), longer than the time left for the archive */
  constructor(
    readonly problem: Problem,
    readonly retryAfterMs?: number,
  ) {
    super(problem.message);
  }
}

/** The session misbehaved: its batch is deleted (then this is a failure) or, if it cannot be, needs attention. */
export class Unproven extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
  }
}

/** A batch that holds (part of) the archive stays on the platform: a person must look. */
export class NeedsAttention extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
  }
}

/** The platform refused the key (401/403): nothing more is sent. Exit 5. */
export function credentialsRefused(detail: string): WopackError {
  return new WopackError(
    "credentials",
    "E_UPLOAD_CREDENTIALS",
    `the platform refused the upload credentials (${detail}); nothing more was sent`,
    "check WOPACK_API_KEY (or upload.keyFile) and that the key may create batches on this site",
  );
}

/**
 * An archive the platform may hold part of, or wrong bytes of, in a batch it keeps (the reason says why: a
 * deletion refused, digests that differ); status words it the same.
 */
export function attentionProblem(name: string, batchId: string, reason: string): Problem {
  return problem(
    "E_UPLOAD_ATTENTION",
    `${name}: ${reason}; the platform keeps batch ${batchId}, which may hold part of it or the wrong bytes: not uploaded`,
    `look at batch ${batchId} on the platform and delete it there, then send the archive again with wopack upload <out> ${name} --attention-cleared; until then it is not sent (by any run, named or not) and prune keeps it`,
    name,
  );
}

/** What an interruption ends with (exit 130). */
export function interrupted(signal: AbortSignal): WopackError {
  return signal.reason instanceof WopackError && signal.reason.kind === "interrupted"
    ? signal.reason
    : interruptedError("interrupted", "run wopack upload again: it resumes where the platform stands");
}

/**
 * The archive is not what its report says (another size, gone, or — found before the last chunk — bytes
 * whose SHA-256 is not the report's): it is not sent, or its last chunk is not, so the platform never has it.
 */
export function archiveChanged(
  name: string,
  what = "its bytes no longer have the SHA-256 of its report; the last chunk was not sent, so the platform never completes it",
): ArchiveFailed {
  return new ArchiveFailed(
    problem(
      "E_UPLOAD_ARCHIVE_CHANGED",
      `${name}: ${what}`,
      "an archive must not change after it is committed: pack the work orders again with --repack",
      name,
    ),
  );
}

/** The session broke the protocol (no progress, bytes past the end, completion without the bytes). */
export function protocolProblem(name: string, redact: (text: string) => string, what: string): Problem {
  return problem(
    "E_UPLOAD_PROTOCOL",
    `${name}: the platform's upload session broke the protocol: ${redact(what)}; not uploaded`,
    "the next run starts again with a new batch; if it keeps happening, report it to the platform with this message",
    name,
  );
}

/**
 * The platform refused a request: the key (exit 5), or this archive (it fails; the next run tries again); or
 * (`kind` "retry", its tries used up) never answered it usably: `where` (the platform's URL, redacted here) is
 * unreachable, or kept answering a status that means "not now" (unavailable); neither is a refusal.
 */
export function refusal(
  name: string,
  redact: (text: string) => string,
  kind: string,
  detail: string,
  what: string,
  where = "the platform",
): Error {
  const words = redact(detail);
  if (kind === "auth") return credentialsRefused(words);
  if (kind === "insecure") return new ArchiveFailed(insecureProblem(name, words));
  // (an answer with a status, 5xx, 408 or 429, reached the platform or its gateway: busy or down, not unreachable)
  if (kind === "retry" && /^HTTP \d{3}\b/.test(detail))
    return new ArchiveFailed(
      problem(
        "E_PLATFORM_UNAVAILABLE",
        `${name}: ${redact(where)} kept answering ${what} with ${words}; not uploaded`,
        "the platform is busy or down: the next run (or a running watch, after its backoff) tries again; if it lasts, ask the platform's operators",
        name,
      ),
    );
  if (kind === "retry")
    return new ArchiveFailed(
      problem(
        "E_PLATFORM_UNREACHABLE",
        `${name}: ${redact(where)} could not be reached for ${what} (${words}); not uploaded`,
        "check the network and the platform's URL (upload.url or WOPACK_API_URL) with wopack doctor; the next run tries again",
        name,
      ),
    );
  return new ArchiveFailed(
    problem(
      "E_UPLOAD_REFUSED",
      `${name}: the platform refused ${what} (${words})`,
      "the next run tries again; if it keeps failing, check the archive against the platform's rules (wopack validate)",
      name,
    ),
  );
}

/** An upload session that would carry the archive unencrypted: nothing is sent there. */
export function insecureProblem(name: string, words: string): Problem {
  return problem(
    "E_UPLOAD_INSECURE",
    `${name}: ${words}; nothing was sent there`,
    "check that upload.url (or WOPACK_API_URL) is the platform's own https address; a platform that hands out http: upload sessions under https must be asked why (a deliberate plain-HTTP setup uses an http: API URL)",
    name,
  );
}

/**
 * The batch creations whose answer was lost (folded: how many, when): the platform may keep an empty batch of
 * each; status words it the same.
 */
export function maybeMadeProblem(name: string, filename: string, m: MaybeBatches): Problem {
  const one = m.count === 1;
  const when = one ? `at ${m.first}` : `from ${m.first} to ${m.last}`;
  return problem(
    "W_BATCH_MAYBE_MADE",
    `${name}: ${one ? "a batch creation" : `${m.count} batch creations`} got no usable answer ${when} (the last: ${m.detail}); the platform may have made ${one ? "it" : "them"} all the same, and keeps ${one ? "it" : "them"} empty: the archive goes into another batch`,
    `look on the platform for ${one ? "an empty batch" : "empty batches"} "${filename}" made ${when}, and delete ${one ? "it" : "them"} there; the batch that holds the archive is the one wopack status names`,
    name,
  );
}
