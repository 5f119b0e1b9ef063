/**
 * A block of source with numbered lines, each a link to itself (`#L12`),
 * so a line can be pointed at in a URL; the target line is marked by CSS
 * (`:target`), with no script. Lines come as HTML from highlight.ts, which
 * escaped them.
 */
import { html, type VNode } from "./html.ts";

export function CodeView(props: { readonly lines: readonly string[] }): VNode {
  let body = "";
  props.lines.forEach((line, i) => {
    const n = i + 1;
    body += `<span class="line" id="L${n}"><a class="ln" href="#L${n}">${n}</a><span class="src">${line}</span></span>`;
  });
  // Focusable: a reader who scrolls with the keyboard can reach the long lines.
  return html`<pre class="code" tabindex="0"><code dangerouslySetInnerHTML=${{ __html: body }}></code></pre>`;
}
