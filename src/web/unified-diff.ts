/**
 * Unified diffs of two texts (jsdiff's Myers diff, three lines of
 * context), rendered as lines marked added, removed or kept. The +/−
 * sign stays in the text, so the change reads without its colour.
 */
import { type StructuredPatchHunk, structuredPatch } from "diff";
import { html, type VNode } from "./html.ts";

/**
 * Past this many edits the diff gives up: Myers' cost grows with the
 * product of the length and the edits, and two unrelated files are
 * better read side by side than as a diff.
 */
const MAX_EDITS = 4000;

export interface TextDiff {
  readonly hunks: readonly StructuredPatchHunk[];
  readonly added: number;
  readonly removed: number;
  /** Lines the rendered diff takes. */
  readonly lines: number;
}

/** The diff of two texts; undefined when they differ too much to diff here. */
export function diffTexts(before: string, after: string): TextDiff | undefined {
  const patch = structuredPatch("a", "b", before, after, undefined, undefined, {
    context: 3,
    maxEditLength: MAX_EDITS,
  });
  if (!patch) return undefined;
  let added = 0;
  let removed = 0;
  let lines = 0;
  for (const hunk of patch.hunks) {
    lines += hunk.lines.length + 1;
    for (const line of hunk.lines) {
      if (line.startsWith("+")) added++;
      else if (line.startsWith("-")) removed++;
    }
  }
  return { hunks: patch.hunks, added, removed, lines };
}

const CLASS_OF: Readonly<Record<string, string>> = { "+": "add", "-": "del", "\\": "note" };

export function DiffView(props: { readonly diff: TextDiff }): VNode {
  return html`<pre class="diff" tabindex="0"><code>${props.diff.hunks.map(
    (hunk) =>
      html`<span class="hunk">@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@</span>${hunk.lines.map(
        (line) =>
          html`<span class=${CLASS_OF[line[0]] ?? "ctx"}>${line === "" ? " " : line}</span>`,
      )}`,
  )}</code></pre>`;
}
