import type { Config } from "../config/schema.js";
import type { Problem } from "../core/errors.js";
import { own } from "../core/own.js";
import { isTaskGroupName } from "../spec/names.js";
import { badTaskGroupName, unknownTaskGroup } from "../spec/problems.js";

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
  if (!isTaskGroupName(name)) return { problem: badTaskGroupName(path, name, where) };
  return { problem: unknownTaskGroup(path, name, config.taskGroups ?? [], { where, raw }) };
}
