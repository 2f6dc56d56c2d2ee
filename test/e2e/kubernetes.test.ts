import { spawnSync } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { shardOf } from "../../src/spec/shard.js";
import { noiseJpeg, put, ROOT, tempDir, wopack } from "../helpers.js";
import { Watcher } from "../watcher.js";

// deploy/kubernetes: the wiring a typo would break without any cluster noticing until the night runs.
const K8S = path.join(ROOT, "deploy", "kubernetes");

interface Container {
  args: string[];
  env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } } }[];
  volumeMounts: { name: string; mountPath: string }[];
  securityContext: Record<string, unknown>;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet: { path: string; port: string } };
  readinessProbe?: { httpGet: { path: string; port: string } };
}
interface PodSpec {
  securityContext: Record<string, unknown>;
  containers: Container[];
  volumes: { name: string; persistentVolumeClaim?: { claimName: string }; configMap?: { name: string } }[];
}

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML; its shape is what these tests check
type Manifest = Record<string, any>;

async function manifests(file: string): Promise<Manifest[]> {
  return parseAllDocuments(await readFile(path.join(K8S, file), "utf8")).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJSON();
  });
}

/** The shard count in a container's `--shard $(SHARD)/<n>`. */
function shardCount(c: Container): number {
  const value = c.args[c.args.indexOf("--shard") + 1]!;
  expect(value).toMatch(/^\$\(SHARD\)\/\d+$/);
  return Number(value.split("/")[1]);
}

/** What every wopack pod must hold to: non-root, read-only root, nothing to escalate, mounts that exist. */
function expectHardenedAndMounted(pod: PodSpec, claims: Set<string>, configMaps: Set<string>) {
  expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
  expect(pod.securityContext.runAsUser).not.toBe(0);
  const [c] = pod.containers;
  expect(c!.securityContext).toMatchObject({
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
  });
  const volumes = new Map(pod.volumes.map((v) => [v.name, v]));
  for (const m of c!.volumeMounts) expect(volumes.has(m.name), `volume of mount ${m.name}`).toBe(true);
  for (const v of pod.volumes) {
    if (v.persistentVolumeClaim) expect(claims.has(v.persistentVolumeClaim.claimName)).toBe(true);
    if (v.configMap) expect(configMaps.has(v.configMap.name)).toBe(true);
  }
  // every path the command line names is a mounted folder (the root file system is read-only)
  const mounted = c!.volumeMounts.map((m) => m.mountPath);
  for (const arg of c!.args.filter((a) => a.startsWith("/")))
    expect(
      mounted.some((m) => arg === m || arg.startsWith(`${m}/`)),
      `${arg} is on a mounted volume`,
    ).toBe(true);
  expect(mounted).toContain("/tmp");
  // sized from the bench: converting HEIC on 2 cores peaks at ~360 MB
  expect(c!.resources.requests.cpu).toBe("2");
  expect(parseInt(c!.resources.limits.memory!, 10)).toBeGreaterThanOrEqual(1);
}

/** The container's arguments for one shard, with the pod's folders mapped into `dir`. */
function localArgs(c: Container, shard: number, dir: string): string[] {
  return c.args.map((a) => a.replaceAll("$(SHARD)", String(shard)).replace(/^\/(srv|etc\/wopack)\//, `${dir}/$1/`));
}

describe("deploy/kubernetes", async () => {
  const volumes = await manifests("volumes.yaml");
  const claims = new Set(volumes.filter((d) => d.kind === "PersistentVolumeClaim").map((d) => d.metadata.name as string));
  const configMaps = new Set(volumes.filter((d) => d.kind === "ConfigMap").map((d) => d.metadata.name as string));

  it("the shared folders can be mounted by every shard at once (ReadWriteMany)", () => {
    for (const d of volumes.filter((v) => v.kind === "PersistentVolumeClaim"))
      expect(d.spec.accessModes).toEqual(["ReadWriteMany"]);
  });

  it("the nightly CronJob runs an Indexed Job whose completion index is each pod's shard", async () => {
    const [cron] = await manifests("pack-cronjob.yaml");
    expect(cron!.kind).toBe("CronJob");
    expect(cron!.spec.concurrencyPolicy).toBe("Forbid");
    const job = cron!.spec.jobTemplate.spec;
    expect(job.completionMode).toBe("Indexed");
    const pod = job.template.spec as PodSpec;
    const c = pod.containers[0]!;
    expect(c.args[0]).toBe("pack");
    expect(shardCount(c)).toBe(job.completions);
    expect(job.parallelism).toBe(job.completions);
    expect(c.env.find((e) => e.name === "SHARD")?.valueFrom?.fieldRef?.fieldPath).toBe(
      "metadata.annotations['batch.kubernetes.io/job-completion-index']",
    );
    expect(c.args[c.args.indexOf("--out") + 1]).toContain("$(SHARD)"); // each shard its own outbox
    expect(job.activeDeadlineSeconds).toBeGreaterThan(0);
    expectHardenedAndMounted(pod, claims, configMaps);
  });

  it("the watch StatefulSet's pod ordinal is its shard, probed on /healthz of its status server", async () => {
    const [set] = await manifests("watch-statefulset.yaml");
    expect(set!.kind).toBe("StatefulSet");
    const pod = set!.spec.template.spec as PodSpec;
    const c = pod.containers[0]!;
    expect(c.args[0]).toBe("watch");
    expect(shardCount(c)).toBe(set!.spec.replicas);
    expect(c.env.find((e) => e.name === "SHARD")?.valueFrom?.fieldRef?.fieldPath).toBe(
      "metadata.labels['apps.kubernetes.io/pod-index']",
    );
    expect(c.args).toContain("--poll"); // a network share sends no file events
    const listen = c.args[c.args.indexOf("--http") + 1]!;
    const port = c.ports!.find((p) => p.name === c.livenessProbe!.httpGet.port)!.containerPort;
    expect(listen).toBe(`0.0.0.0:${port}`);
    // not loopback: the status server wants its token (from a Secret, never in the manifest); /healthz needs none
    expect(c.env.find((e) => e.name === "WOPACK_HTTP_TOKEN")?.valueFrom).toEqual({
      secretKeyRef: { name: "wopack-http", key: "token" },
    });
    for (const probe of [c.livenessProbe!, c.readinessProbe!]) expect(probe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expectHardenedAndMounted(pod, claims, configMaps);
  });

  it("the Job's command line, run for shard 1 with the pod's folders mapped to a temp dir, packs shard 1's work orders", async () => {
    const [cron] = await manifests("pack-cronjob.yaml");
    const c = cron!.spec.jobTemplate.spec.template.spec.containers[0] as Container;
    const dir = await tempDir();
    const photo = await noiseJpeg(64, 48, 1, 80);
    const ids = Array.from({ length: 12 }, (_, i) => `WO_${i}`);
    for (const id of ids) await put(path.join(dir, "srv", "staging"), `${id}/meter/a.jpg`, photo);
    await mkdir(path.join(dir, "etc", "wopack"), { recursive: true });
    await writeFile(
      path.join(dir, "etc", "wopack", "wopack.config.json"),
      volumes.find((d) => d.kind === "ConfigMap")!.data["wopack.config.json"],
    );
    const run = await wopack(localArgs(c, 1, dir));
    expect(run.code, run.stderr).toBe(0);
    const archives = (await readdir(path.join(dir, "srv", "outbox", "s1"))).filter((n) => n.endsWith(".zip"));
    expect(archives.length).toBeGreaterThan(0);
    for (const a of archives) expect(a).toMatch(/-s1of3-\d+\.zip$/);
    expect((await readdir(path.join(dir, "srv", "processed"))).sort()).toEqual(ids.filter((id) => shardOf(id, 3) === 1).sort());
  });

  it("the StatefulSet's command line, run for shard 2, answers its /healthz", async () => {
    const [set] = await manifests("watch-statefulset.yaml");
    const c = set!.spec.template.spec.containers[0] as Container;
    const dir = await tempDir();
    await mkdir(path.join(dir, "srv", "staging"), { recursive: true });
    await mkdir(path.join(dir, "etc", "wopack"), { recursive: true });
    await writeFile(path.join(dir, "etc", "wopack", "wopack.config.json"), "{}");
    // (any free port on loopback, as several tests run at once)
    const args = localArgs(c, 2, dir).map((a) => (a.startsWith("0.0.0.0:") ? "127.0.0.1:0" : a));
    const w = new Watcher(args.slice(1));
    try {
      await w.until(
        "listening",
        (x) => x.events.some((e) => e.event === "started") && /http:\/\/127\.0\.0\.1:\d+/.test(JSON.stringify(x.events)),
      );
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(JSON.stringify(w.events))![0];
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
    } finally {
      await w.stop();
    }
  });

  it("the image: non-root, the native binding built in a build stage, MALLOC_ARENA_MAX set", async () => {
    const dockerfile = await readFile(path.join(K8S, "Dockerfile"), "utf8");
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages).toHaveLength(2);
    expect(stages[0]).toMatch(/libheif-dev[\s\S]*libjpeg-dev/);
    expect(stages[0]).toMatch(/test -f native\/build\/Release\/wopack_heif\.node/);
    expect(stages[1]).toMatch(/^USER 1000:1000$/m);
    expect(stages[1]).toMatch(/MALLOC_ARENA_MAX=1/);
    expect(stages[1]).not.toMatch(/-dev\b/);
  });

  const docker = spawnSync("docker", ["info"], { stdio: "ignore", timeout: 10_000 }).status === 0;
  it.skipIf(!docker)("the image builds and answers --version with the native decoder (where a Docker daemon runs)", () => {
    const build = spawnSync("docker", ["build", "-q", "-f", path.join(K8S, "Dockerfile"), "-t", "wopack-test", ROOT], {
      encoding: "utf8",
      timeout: 600_000,
    });
    expect(build.status, build.stderr).toBe(0);
    const version = spawnSync("docker", ["run", "--rm", "--read-only", "wopack-test", "--version"], { encoding: "utf8" });
    expect(version.stdout).toMatch(/HEIC decoder: native libheif/);
  });
});
