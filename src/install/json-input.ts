/** JSON read from a project's files: size-capped, and an object at the top or refused. */
import { InstallError } from "./install-error.ts";

export const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

export function parseJsonObject(
  text: string,
  what: string,
  maxBytes: number,
): Record<string, unknown> {
  if (text.length > maxBytes)
    throw new InstallError("too-large", `${what} is larger than ${maxBytes} bytes`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new InstallError("not-json", `${what} is not JSON`, { cause });
  }
  if (!isObject(data)) throw new InstallError("not-json", `${what} is not a JSON object`);
  return data;
}
