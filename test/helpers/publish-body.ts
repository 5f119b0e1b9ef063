/** Builds npm publish bodies the way the npm CLI does. */
import { createHash } from "node:crypto";
import { tarballFileName } from "../../src/npm/publish.ts";

export function publishBody(
  manifest: { name: string; version: string } & Record<string, unknown>,
  tgz: Uint8Array,
  tag = "latest",
) {
  const integrity = `sha512-${createHash("sha512").update(tgz).digest("base64")}`;
  const shasum = createHash("sha1").update(tgz).digest("hex");
  return {
    _id: manifest.name,
    name: manifest.name,
    description: manifest.description,
    "dist-tags": { [tag]: manifest.version },
    versions: {
      [manifest.version]: {
        ...manifest,
        _id: `${manifest.name}@${manifest.version}`,
        dist: {
          integrity,
          shasum,
          tarball: `http://localhost/${manifest.name}/-/${tarballFileName(manifest.name, manifest.version)}`,
        },
      },
    },
    access: null,
    _attachments: {
      [tarballFileName(manifest.name, manifest.version)]: {
        content_type: "application/octet-stream",
        data: Buffer.from(tgz).toString("base64"),
        length: tgz.length,
      },
    },
  };
}
