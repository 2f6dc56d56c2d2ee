import { readFileSync } from "node:fs";
import path from "node:path";
import type { Config } from "../config/schema.js";
import { WopackError } from "../core/errors.js";
import { redact } from "../core/redact.js";

/**
 * Where to send and with which key: the URL from env WOPACK_API_URL or upload.url; the key from env
 * WOPACK_API_KEY, else upload.keyFile, else systemd's credential ($CREDENTIALS_DIRECTORY/wopack-api-key).
 * Never from argv; the key is never part of a message.
 */
export function resolveCredentials(config: Config, env: NodeJS.ProcessEnv = process.env): { url: string; key: string } {
  const url = env.WOPACK_API_URL?.trim() || config.upload.url;
  if (!url) {
    throw new WopackError(
      "usage",
      "E_UPLOAD_NO_URL",
      "no platform URL to upload to",
      "set upload.url in the config, or WOPACK_API_URL, e.g. https://api.<site-id>.customers.deepomatic.com/v0.2",
    );
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !/^https?:$/.test(parsed.protocol)) {
    throw new WopackError(
      "usage",
      "E_UPLOAD_URL",
      `the platform URL ${redact(url)} is not an http(s) URL`,
      "set upload.url or WOPACK_API_URL to e.g. https://api.<site-id>.customers.deepomatic.com/v0.2",
    );
  }
  if (parsed.username || parsed.password) {
    throw new WopackError(
      "usage",
      "E_UPLOAD_URL",
      `the platform URL ${redact(url)} holds a user name or password, which wopack does not send`,
      "remove user:password@ from the URL; the platform takes the API key (WOPACK_API_KEY or upload.keyFile)",
    );
  }
  const credential = env.CREDENTIALS_DIRECTORY ? path.join(env.CREDENTIALS_DIRECTORY, "wopack-api-key") : undefined;
  const keyFile = config.upload.keyFile ?? credential;
  let key = env.WOPACK_API_KEY?.trim();
  if (!key && keyFile) {
    try {
      key = readFileSync(keyFile, "utf8").trim();
    } catch (err) {
      if (config.upload.keyFile) {
        throw new WopackError(
          "usage",
          "E_UPLOAD_NO_KEY",
          `cannot read the API key file ${keyFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
          "check upload.keyFile and that the user running wopack may read it",
        );
      }
    }
  }
  if (!key) {
    throw new WopackError(
      "usage",
      "E_UPLOAD_NO_KEY",
      "no API key to upload with",
      "set WOPACK_API_KEY in the environment, or upload.keyFile in the config (with systemd: LoadCredential=wopack-api-key:<file>)",
    );
  }
  return { url, key };
}
