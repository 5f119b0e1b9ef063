/** Minimal npm-protocol calls for tests that need to control every byte sent. */
import { request } from "node:http";
import { publishBody } from "./publish-body.ts";
import { packageJson, type RawTarEntry, rawTgz } from "./tar.ts";

export async function signUp(url: string, name: string, password: string): Promise<string> {
  const res = await fetch(new URL(`-/user/org.couchdb.user:${name}`, url), {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, password }),
  });
  if (res.status !== 201) throw new Error(`sign-up failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

export function putJson(
  url: string,
  path: string,
  token: string | undefined,
  body: unknown,
): Promise<Response> {
  return fetch(new URL(path.replace(/^\//, ""), url), {
    method: "PUT",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Publishes name@version built from `entries` (a package.json is added unless given). */
export function publish(
  url: string,
  token: string | undefined,
  name: string,
  version: string,
  extra: RawTarEntry[] = [],
) {
  const tgz = rawTgz([packageJson(name, version), ...extra]);
  return putJson(url, `/${name.replace("/", "%2f")}`, token, publishBody({ name, version }, tgz));
}

/** Sends a request that declares a huge body, and returns the status the server answers with. */
export function hugeUpload(url: string, path: string, declaredBytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path.replace(/^\//, ""), url), {
      method: "PUT",
      headers: { "content-type": "application/json", "content-length": String(declaredBytes) },
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on("error", (err) => reject(err));
    req.write(Buffer.alloc(64 * 1024, 0x20));
  });
}
