/**
 * Pages are Preact components written with htm's tagged templates and
 * rendered to a string on the server; no page ships a framework to the
 * browser. Preact escapes every string it renders as text or attribute,
 * so a package's name, description or file content can never become
 * markup; the one way around it, `dangerouslySetInnerHTML`, is used only
 * for output this folder produced and sanitized itself (readme.ts,
 * highlight.ts).
 */
import { html } from "htm/preact";
import type { ComponentChildren, VNode } from "preact";
import { renderToString } from "preact-render-to-string";

export { html };

export type Children = ComponentChildren;
export type { VNode };

/** A whole HTML document. */
export function renderDocument(root: VNode): string {
  return `<!doctype html>${renderToString(root)}`;
}
