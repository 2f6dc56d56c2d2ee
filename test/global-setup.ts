import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * One temporary folder for the whole run, removed at the end: the tests stage photos, big archives and
 * tmpfs mounts in it, and a machine that runs the suite often must not fill its disk.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const root = await mkdtemp(path.join(tmpdir(), "wopack-tests-"));
  await chmod(root, 0o755); // one test runs wopack as an unprivileged user, who must get through

  process.env.WOPACK_TEST_TMP = root;
  return async () => {
    await rm(root, { recursive: true, force: true });
  };
}
