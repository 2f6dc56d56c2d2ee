import { spawnSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
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
    // a tmpfs a failed or interrupted fault test left mounted would outlive the run (and keep rm from the rest)
    const mounts = await readFile("/proc/self/mounts", "utf8").catch(() => "");
    for (const line of mounts.split("\n")) {
      const at = line.split(" ")[1]?.replace(/\\040/g, " ");
      if (at?.startsWith(root + path.sep)) spawnSync("umount", ["-l", at]);
    }
    await rm(root, { recursive: true, force: true });
  };
}
