// A Sender keeps its own settings: what it adds for itself (oneMove, the queue of its --uploaded-to moves) is
// never written onto the object it was given, which its maker may share with another Sender or reuse.
import { describe, expect, it } from "vitest";
import type { UploadJournal } from "../../src/commit/uploads.js";
import { Sender } from "../../src/run/upload.js";
import type { UploadSettings } from "../../src/upload/uploadArchive.js";

// (the constructor is private: Sender.open builds the settings; this reaches it as open does)
const construct = Sender as unknown as new (out: string, journal: UploadJournal, settings: UploadSettings) => Sender;

describe("Sender's settings", () => {
  it("the object it is given is left as it was", () => {
    const given = { out: "/srv/out", uploadedTo: "/srv/sent", signal: new AbortController().signal } as unknown as UploadSettings;
    const before = { ...given };
    new construct("/srv/out", { archives: new Map() } as unknown as UploadJournal, given);
    expect(given).toEqual(before);
    expect(Object.keys(given)).toEqual(Object.keys(before));
  });
});
