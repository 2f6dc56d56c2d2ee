// The CLI's log (src/cli/log.ts), which replaced pino: one line per record at or above the level, JSON
// lines in the order and with the fields schema/log-line.schema.json states (the e2e tests validate real
// runs' lines against it), errors on their own stream, text lines on one line whatever the message holds.
import { Writable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createLog, type LogFormat, type LogLevel } from "../../src/cli/log.js";
import { VERSION } from "../../src/core/version.js";

const LEVELS: LogLevel[] = ["debug", "info", "warn", "error"];

function sink(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _, done) {
      lines.push(String(chunk));
      done();
    },
  });
  // (the log writes synchronously: what reached write() is in `lines` at once)
  stream.write = ((chunk: string) => lines.push(chunk) > 0) as typeof stream.write;
  return { stream, lines };
}

const message = fc.oneof(fc.string({ unit: "grapheme" }), fc.constantFrom("a\nb", "\x1b[31mred", "tab\there", "\r\n"));
// (an event's fields are named in words; a name like "0", which JavaScript orders before every other, is not)
const RESERVED = ["level", "time", "schemaVersion", "pid", "version", "message", "event", "__proto__"];
const fields = fc.dictionary(
  fc.string({ minLength: 1 }).filter((k) => !RESERVED.includes(k) && !/^\d+$/.test(k)),
  fc.jsonValue(),
  { maxKeys: 4 },
);
type Call =
  | { kind: "logger"; level: "info" | "warn" | "debug"; message: string }
  | {
      kind: "event";
      event: "packed" | "refused" | "warning" | "error" | "started";
      message: string;
      fields: Record<string, unknown>;
    }
  | { kind: "progress"; sent: number; total: number };
const call: fc.Arbitrary<Call> = fc.oneof(
  fc.record({
    kind: fc.constant("logger" as const),
    level: fc.constantFrom("info" as const, "warn" as const, "debug" as const),
    message,
  }),
  fc.record({
    kind: fc.constant("event" as const),
    event: fc.constantFrom("packed" as const, "refused" as const, "warning" as const, "error" as const, "started" as const),
    message,
    fields,
  }),
  fc.record({ kind: fc.constant("progress" as const), sent: fc.nat(), total: fc.nat() }),
);
const levelOf = (c: Call): LogLevel =>
  c.kind === "logger"
    ? c.level
    : c.kind === "progress"
      ? "info"
      : c.event === "error"
        ? "error"
        : c.event === "warning" || c.event === "refused"
          ? "warn"
          : "info";

describe("the CLI's log", () => {
  it("writes each record at or above the level as one line, errors apart, JSON in the schema's order (property)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<LogFormat>("json", "text"),
        fc.constantFrom(...LEVELS),
        fc.array(call, { maxLength: 8 }),
        (format, level, calls) => {
          const out = sink();
          const errors = sink();
          let cleared = 0;
          const log = createLog({ format, level, out: out.stream, errors: errors.stream, beforeWrite: () => cleared++ });
          const expected: { to: "out" | "errors"; level: LogLevel; call: Call }[] = [];
          for (const c of calls) {
            if (c.kind === "logger") log.logger[c.level](c.message);
            else if (c.kind === "event") log.event({ event: c.event, message: c.message, ...c.fields });
            else log.progress({ archive: "batch-1.zip", sent: c.sent, total: c.total });
            if (LEVELS.indexOf(levelOf(c)) >= LEVELS.indexOf(level))
              expected.push({ to: levelOf(c) === "error" ? "errors" : "out", level: levelOf(c), call: c });
          }
          expect(cleared).toBe(expected.length);
          const written = { out: [...out.lines], errors: [...errors.lines] };
          for (const e of expected) {
            const line = written[e.to].shift()!;
            expect(line.endsWith("\n") && line.indexOf("\n") === line.length - 1, line).toBe(true);
            if (format === "text") {
              expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
              expect(line.includes(`Z ${e.level === "info" ? "" : `${e.level}: `}`)).toBe(true);
              continue;
            }
            const record = JSON.parse(line);
            expect(Object.keys(record).slice(0, 5)).toEqual(["level", "time", "schemaVersion", "pid", "version"]);
            expect(Object.keys(record).at(-1)).toBe("message");
            expect(record).toMatchObject({ level: e.level, schemaVersion: 1, pid: process.pid, version: VERSION });
            expect(new Date(record.time).toISOString()).toBe(record.time);
            const c = e.call;
            if (c.kind === "logger") expect(record.message).toBe(c.message);
            if (c.kind === "event") {
              expect(record.message).toBe(c.message);
              expect(record.event).toBe(c.event);
              for (const [k, v] of Object.entries(c.fields)) expect(record[k]).toEqual(JSON.parse(JSON.stringify(v) ?? "null"));
            }
            if (c.kind === "progress") expect(record).toMatchObject({ event: "progress", sent: c.sent, total: c.total });
          }
          expect(written).toEqual({ out: [], errors: [] });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("writes a field's BigInt as its digits instead of failing", () => {
    const out = sink();
    createLog({ format: "json", level: "info", out: out.stream, errors: out.stream }).event({
      event: "packed",
      message: "m",
      hash: 2n ** 70n,
    });
    expect(JSON.parse(out.lines[0]!).hash).toBe((2n ** 70n).toString());
  });
});
