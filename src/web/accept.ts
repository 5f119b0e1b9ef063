/**
 * Whether a request is a browser's: its Accept header names text/html with
 * a quality at least that of JSON. npm, pnpm, Yarn and bun send
 * `application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, *\/*`
 * and so never get a page; `*\/*` alone does not count as asking for HTML.
 */

/** The quality each media type in an Accept header is given (absent: not named). */
function qualities(accept: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of accept.split(",", 64)) {
    const [type, ...params] = part.split(";");
    let q = 1;
    for (const param of params) {
      const [key, value] = param.split("=");
      if (key?.trim().toLowerCase() === "q") {
        const parsed = Number(value);
        q = Number.isFinite(parsed) ? parsed : 0;
      }
    }
    const name = type.trim().toLowerCase();
    if (name !== "") out.set(name, Math.max(q, out.get(name) ?? 0));
  }
  return out;
}

export function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined || !accept.includes("html")) return false;
  const q = qualities(accept);
  const html = Math.max(q.get("text/html") ?? 0, q.get("application/xhtml+xml") ?? 0);
  const json = Math.max(
    q.get("application/json") ?? 0,
    q.get("application/vnd.npm.install-v1+json") ?? 0,
  );
  return html > 0 && html >= json;
}
