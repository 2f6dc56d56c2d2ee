// The strict batch server for every test of a file: a fresh one started before each test and stopped after,
// handed to the file through `set` (so that the file's tests keep calling it `server`).
import { afterEach, beforeEach } from "vitest";
import { UploadServer } from "./upload-server.js";

export function useUploadServer(key: string, set: (server: UploadServer) => void): void {
  let server: UploadServer | undefined;
  beforeEach(async () => {
    server = await new UploadServer(key).start();
    set(server);
  });
  afterEach(async () => {
    await server?.stop();
  });
}
