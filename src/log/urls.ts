/**
 * Cairn servers (origin and mirrors) publish their static tree under
 * `/-/cairn/`; a URL given by a user or listed in the mirror list is the
 * server's base URL, or the tree's own URL when it already ends in `/-/cairn/`
 * (a plain web server or object store holding a copy).
 */
export const TREE_PATH = "-/cairn/";

/** An http(s) URL with a trailing slash, no query or fragment; throws on anything else. */
export function normalizeBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new Error(`not an http(s) URL: ${raw}`);
  if (url.search || url.hash || url.username || url.password)
    throw new Error(`a base URL has no query, fragment or credentials: ${raw}`);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url.href;
}

/** The URL of the static tree of the server at `base`. */
export function treeUrl(base: string): string {
  const normalized = normalizeBaseUrl(base);
  return normalized.endsWith(`/${TREE_PATH}`) ? normalized : new URL(TREE_PATH, normalized).href;
}
