/** Where the origin keeps its key, static tree and users inside its data directory. */
import { join } from "node:path";

export function dataPaths(dataDir: string) {
  return {
    key: join(dataDir, "key"),
    /** The npm registry key (ECDSA P-256, PKCS#8 PEM) that signs dist.signatures. */
    registryKey: join(dataDir, "npm-registry-key"),
    tree: join(dataDir, "tree"),
    auth: join(dataDir, "auth.sqlite"),
    /** The bytes of taken-down versions, kept out of the served tree until restored (withheld-files.ts). */
    withheld: join(dataDir, "withheld"),
    /** Names the uplinks said they lack: a cache beside the log, not part of it. */
    uplinkMissing: join(dataDir, "uplink-missing.json"),
    /** The checkpoint the mirrors page's own client verified (src/npm/web-source.ts mirrorCheck). */
    mirrorCheck: join(dataDir, "mirror-check"),
  };
}
