/**
 * npm audit through Cairn: the two advisory endpoints npm posts to are
 * forwarded to an uplink as they came (body, content type and encoding),
 * and the uplink's answer is passed back, as Verdaccio's audit middleware
 * does. The body is what npm sends (package names and versions), never a
 * credential of the client's; the uplink's own token goes with it.
 */
import { exchange } from "./exchange.ts";
import type { Uplink } from "./uplink.ts";

/** npm's bulk request for a large tree is a few MB of JSON; the answer is of the same order. */
export const MAX_AUDIT_BYTES = 32 << 20;

/** The advisory endpoints, relative to a registry's base URL. */
export const AUDIT_PATHS = [
  "-/npm/v1/security/advisories/bulk",
  "-/npm/v1/security/audits/quick",
] as const;
export type AuditPath = (typeof AUDIT_PATHS)[number];

export interface AuditRequest {
  readonly path: AuditPath;
  readonly body: Uint8Array;
  readonly contentType?: string;
  readonly contentEncoding?: string;
}

export interface AuditAnswer {
  readonly status: number;
  readonly contentType?: string;
  readonly body: Buffer;
}

/** Every status but redirects is the upstream's answer to pass on. */
const PASSED_ON = Array.from({ length: 400 }, (_, i) => 200 + i).filter((s) => s < 300 || s >= 400);

export function forwardAudit(uplink: Uplink, request: AuditRequest): Promise<AuditAnswer> {
  const headers: Record<string, string> = {
    accept: "application/json",
    "accept-encoding": "gzip",
    "content-type": request.contentType ?? "application/json",
    "content-length": String(request.body.length),
  };
  if (request.contentEncoding) headers["content-encoding"] = request.contentEncoding;
  return exchange(
    uplink,
    new URL(request.path, uplink.url),
    headers,
    PASSED_ON,
    async (res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of res.body(MAX_AUDIT_BYTES)) chunks.push(chunk);
      const type = res.headers["content-type"];
      return {
        status: res.status,
        ...(typeof type === "string" ? { contentType: type } : {}),
        body: Buffer.concat(chunks),
      };
    },
    { method: "POST", body: request.body },
  );
}
