/** A problem the user can act on: a stable code, a message that names the thing, a hint. */
export interface Problem {
  code: string;
  message: string;
  hint: string;
  /** The staging-relative path of the file or folder the problem is about, when there is one. */
  path?: string;
}

export type ExitKind = "usage" | "io" | "locked" | "interrupted" | "credentials";

/** A problem that stops the whole run (config, usage, I/O, lock). Anything else thrown is a bug. */
export class WopackError extends Error {
  readonly code: string;
  readonly hint: string;
  readonly kind: ExitKind;
  /**
   * Archives this run committed before it failed: they stay committed (in the ledger, their sources moved),
   * and the user is told exactly which.
   */
  committed: { archive: string; path: string; workOrders: string[] }[] = [];

  /** the message's first line; `lines` are listed under it, one each (every problem of a config) */
  readonly summary: string;
  readonly lines: readonly string[];

  constructor(
    kind: ExitKind,
    code: string,
    message: string,
    hint: string,
    options?: { cause?: unknown; lines?: readonly string[] },
  ) {
    const lines = options?.lines ?? [];
    super(lines.length ? `${message}\n  ${lines.join("\n  ")}` : message, options);
    this.name = "WopackError";
    this.kind = kind;
    this.code = code;
    this.hint = hint;
    this.summary = message;
    this.lines = lines;
  }
}

export function problem(code: string, message: string, hint: string, path?: string): Problem {
  return path === undefined ? { code, message, hint } : { code, message, hint, path };
}

/** A command line or library call that cannot be done as asked: exit 2, nothing written. */
export function usageError(message: string, hint = "see wopack --help"): WopackError {
  return new WopackError("usage", "E_USAGE", message, hint);
}

/** The run was stopped (SIGINT, SIGTERM, or the caller's AbortSignal): what is committed stays committed. */
export function interruptedError(message = "interrupted", hint = "run again to pack what is left"): WopackError {
  return new WopackError("interrupted", "E_INTERRUPTED", message, hint);
}

/** Wraps a filesystem error as an I/O failure that names the file and what to do. */
export function ioError(err: unknown, what: string): WopackError {
  const code = (err as NodeJS.ErrnoException)?.code ?? "EIO";
  const hints: Record<string, string> = {
    ENOSPC: "free some space on that disk (or point --out elsewhere) and run again",
    EDQUOT: "free some space on that disk (or point --out elsewhere) and run again",
    EACCES: "check the permissions of that path for the user running wopack",
    EPERM: "check the permissions of that path for the user running wopack",
    EROFS: "that filesystem is read-only; point --out elsewhere",
  };
  return new WopackError(
    "io",
    `E_IO_${code}`,
    `${what}: ${(err as Error)?.message ?? String(err)}`,
    hints[code] ?? "check the disk and the path, then run again",
    { cause: err },
  );
}

/** ENOENT/ENOTDIR: the path is not there (moved or removed since it was listed, or never made). */
export function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
