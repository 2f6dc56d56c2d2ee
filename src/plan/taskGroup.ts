import type { Config } from "../config/schema.js";
import { type Problem, problem } from "../core/errors.js";
import { own } from "../core/own.js";
import { isTaskGroupName, nearest } from "../spec/names.js";

/**
 * §3: the sub-folder name or the loose file's stem (without "-N"), mapped through `aliases`; a loose
 * file whose stem is no usable group falls back to `defaultTaskGroup`. Returns the group or a problem.
 */
export function resolveTaskGroup(
  raw: string,
  from: "folder" | "stem",
  config: Pick<Config, "aliases" | "taskGroups" | "defaultTaskGroup">,
  path: string,
): { taskGroup: string } | { problem: Problem } {
  // macOS writes names decomposed (NFD), configs are usually typed composed (NFC): compare them as one
  const nfc = raw.normalize("NFC");
  const name = own(config.aliases, raw) ?? Object.entries(config.aliases).find(([k]) => k.normalize("NFC") === nfc)?.[1] ?? nfc;
  const known = (tg: string) => isTaskGroupName(tg) && (!config.taskGroups || config.taskGroups.includes(tg));
  if (known(name)) return { taskGroup: name };
  if (from === "stem" && config.defaultTaskGroup) return { taskGroup: config.defaultTaskGroup };

  const where = from === "folder" ? `folder "${raw}"` : `file name "${raw}"`;
  if (!isTaskGroupName(name)) {
    return {
      problem: problem(
        "E_TASK_GROUP_NAME",
        `${path}: the ${where} gives task group "${name}", which is not a valid task group name`,
        `rename it to letters, digits and _ only (e.g. "${suggestName(name)}"), or map it in the config's "aliases"`,
        path,
      ),
    };
  }
  const suggestion = nearest(name, config.taskGroups ?? []);
  return {
    problem: problem(
      "E_TASK_GROUP_UNKNOWN",
      `${path}: task group "${name}" (from the ${where}) is not one of the configured taskGroups`,
      suggestion
        ? `did you mean "${suggestion}"? Rename it, or add "${raw}": "${suggestion}" to the config's "aliases"`
        : `add it to "taskGroups" in the config, or map it in "aliases"`,
      path,
    ),
  };
}

function suggestName(name: string): string {
  const cleaned = name
    .trim()
    .replace(/[^A-Za-z0-9_-]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .replace(/-(\d+)$/, "_$1");
  return cleaned || "task_group";
}
