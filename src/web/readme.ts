/**
 * Readmes rendered as the npm website renders them: GitHub-flavoured
 * Markdown (tables, strikethrough, autolinks, task lists, raw HTML) by
 * markdown-it, fenced code highlighted on the server by highlight.js, then
 * the whole output sanitized with a GitHub-like allowlist: no script,
 * style, frame, plugin, form or meta; no event handler; links only to
 * http(s) and mailto; element ids prefixed `user-content-` so a readme
 * cannot take the page's own ids. A readme's relative links lead to the
 * version's file pages and its relative images to the version's raw files.
 */
import hljs from "highlight.js";
import MarkdownIt, { type Token } from "markdown-it";
import sanitizeHtml from "sanitize-html";

/** Past this a readme is shown as plain text, cut here. */
export const MAX_README_BYTES = 1 << 20;

/** Longer code blocks are shown unhighlighted: highlighting costs time in their size. */
const MAX_HIGHLIGHT_CHARS = 64 * 1024;

const ID_PREFIX = "user-content-";

/** Where a readme's relative references lead. */
export interface ReadmeLinks {
  /** A page showing the file or folder at `path` inside the package. */
  readonly file: (path: string) => string;
  /** The raw bytes of the file at `path` (images). */
  readonly raw: (path: string) => string;
}

export type RenderedReadme =
  | { readonly kind: "html"; readonly html: string }
  /** Too large to render: the first MAX_README_BYTES as text. */
  | { readonly kind: "text"; readonly text: string; readonly bytes: number };

const markdown = new MarkdownIt({
  html: true,
  linkify: true,
  typographer: false,
  highlight: (code, lang) => {
    const language = lang && hljs.getLanguage(lang) ? lang : undefined;
    if (!language || code.length > MAX_HIGHLIGHT_CHARS) return "";
    return hljs.highlight(code, { language, ignoreIllegals: true }).value;
  },
});

markdown.core.ruler.push("github_headings_and_tasks", (state) => {
  const slugs = new Map<string, number>();
  const tokens = state.tokens;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token.type === "heading_open") {
      token.attrSet("id", `${ID_PREFIX}${uniqueSlug(slugs, textOf(tokens[i + 1]))}`);
    } else if (token.type === "inline" && tokens[i - 2]?.type === "list_item_open") {
      markTask(state.Token, tokens, i);
    }
  }
});

function textOf(inline: Token | undefined): string {
  return (inline?.children ?? [])
    .filter((t) => t.type === "text" || t.type === "code_inline")
    .map((t) => t.content)
    .join("");
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as dashes, repeats numbered. */
function uniqueSlug(seen: Map<string, number>, text: string): string {
  const base = text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
  const count = seen.get(base) ?? 0;
  seen.set(base, count + 1);
  return count === 0 ? base : `${base}-${count}`;
}

const TASK = /^\[([ xX])\][ \t]/;

/** A list item starting `[ ] ` or `[x] ` gets a disabled checkbox, as on GitHub. */
function markTask(Tok: typeof Token, tokens: Token[], inlineIndex: number): void {
  const inline = tokens[inlineIndex];
  const first = inline.children?.[0];
  const match = first?.type === "text" ? TASK.exec(first.content) : null;
  if (!first || !match) return;
  first.content = first.content.slice(match[0].length);
  const box = new Tok("html_inline", "", 0);
  box.content = `<input type="checkbox" class="task-list-item-checkbox" disabled${
    match[1] === " " ? "" : " checked"
  } /> `;
  inline.children?.unshift(box);
  const item = tokens[inlineIndex - 2];
  item.attrJoin("class", "task-list-item");
  for (let j = inlineIndex - 3; j >= 0; j--) {
    const t = tokens[j];
    if (t.level === item.level - 1 && t.nesting === 1) {
      const isList = t.type === "bullet_list_open" || t.type === "ordered_list_open";
      if (isList && t.attrGet("class") === null) t.attrSet("class", "contains-task-list");
      break;
    }
  }
}

const HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"];

/** What GitHub keeps of a readme's HTML, less what this site cannot show (styles). */
const ALLOWED_TAGS = [
  ...HEADINGS,
  "p",
  "br",
  "hr",
  "a",
  "img",
  "picture",
  "source",
  "ul",
  "ol",
  "li",
  "dl",
  "dt",
  "dd",
  "blockquote",
  "pre",
  "code",
  "kbd",
  "samp",
  "var",
  "tt",
  "em",
  "strong",
  "b",
  "i",
  "u",
  "s",
  "del",
  "ins",
  "strike",
  "mark",
  "small",
  "sub",
  "sup",
  "abbr",
  "q",
  "cite",
  "ruby",
  "rt",
  "rp",
  "table",
  "caption",
  "thead",
  "tbody",
  "tfoot",
  "tr",
  "th",
  "td",
  "details",
  "summary",
  "div",
  "span",
  "input",
];

const ALIGN = ["align"];

const SANITIZE_BASE: sanitizeHtml.IOptions = {
  allowedTags: ALLOWED_TAGS,
  // Dropped with their content, not just their tags.
  nonTextTags: ["script", "style", "textarea", "option", "noscript", "title", "template", "xmp"],
  disallowedTagsMode: "discard",
  allowedAttributes: {
    a: ["href", "title", "id", "name", "rel"],
    img: ["src", "alt", "title", "width", "height", "align"],
    source: ["srcset", "media", "type"],
    input: ["type", "checked", "disabled", "class", "aria-label"],
    td: [...ALIGN, "colspan", "rowspan"],
    th: [...ALIGN, "colspan", "rowspan"],
    p: ALIGN,
    div: ALIGN,
    details: ["open"],
    abbr: ["title"],
    ...Object.fromEntries(HEADINGS.map((h) => [h, ["id", ...ALIGN]])),
    "*": ["id"],
  },
  allowedClasses: {
    code: [/^language-[\w+#-]+$/],
    span: [/^hljs(-[\w-]+)?$/, /^[a-z]+_+$/],
    input: ["task-list-item-checkbox"],
    li: ["task-list-item"],
    ul: ["contains-task-list"],
    ol: ["contains-task-list"],
  },
  allowedSchemes: ["http", "https", "mailto"],
  allowedSchemesByTag: { img: ["http", "https"], source: ["http", "https"] },
  allowedSchemesAppliedToAttributes: ["href", "src", "cite", "srcset"],
  allowProtocolRelative: false,
  selfClosing: [...sanitizeHtml.defaults.selfClosing, "source", "wbr"],
  // Only a task list's checkbox survives of any input.
  exclusiveFilter: (frame) => frame.tag === "input" && frame.attribs.type !== "checkbox",
};

/** A reference to something outside the package: a scheme (after what browsers ignore), or `//`. */
function isExternal(ref: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: browsers skip these in a scheme, so must we.
  const bare = ref.replace(/[\u0000-\u0020]/g, "");
  return /^[a-z][a-z0-9+.-]*:/i.test(bare) || bare.startsWith("//") || bare.startsWith("\\\\");
}

/** A path inside the package from a readme's relative reference (its query and fragment apart). */
export function packagePath(ref: string): { path: string; fragment: string } {
  const hash = ref.indexOf("#");
  const fragment = hash < 0 ? "" : ref.slice(hash);
  const beforeHash = hash < 0 ? ref : ref.slice(0, hash);
  const withoutQuery = beforeHash.split("?", 1)[0];
  const parts: string[] = [];
  for (const raw of withoutQuery.split(/[/\\]/)) {
    let part = raw;
    try {
      part = decodeURIComponent(raw);
    } catch {
      // Kept as written.
    }
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return { path: parts.join("/"), fragment };
}

function prefixId(id: string | undefined): string | undefined {
  if (id === undefined || id === "") return undefined;
  return id.startsWith(ID_PREFIX) ? id : `${ID_PREFIX}${id}`;
}

function withId(attribs: sanitizeHtml.Attributes): sanitizeHtml.Attributes {
  const { id, ...rest } = attribs;
  const prefixed = prefixId(id);
  return prefixed === undefined ? rest : { ...rest, id: prefixed };
}

/** A name for an image that has no text: the last segment of its URL's path ("logo.svg"). */
function imageName(src: string | undefined): string {
  const path = (src ?? "").split(/[?#]/, 1)[0];
  const last = path.slice(path.lastIndexOf("/") + 1);
  try {
    return decodeURIComponent(last) || "image";
  } catch {
    return last || "image";
  }
}

function sanitizeOptions(links: ReadmeLinks): sanitizeHtml.IOptions {
  const anyTag: sanitizeHtml.Transformer = (tagName, attribs) => ({
    tagName,
    attribs: withId(attribs),
  });
  return {
    ...SANITIZE_BASE,
    transformTags: {
      "*": anyTag,
      a: (tagName, attribs) => {
        const { href, name, rel: _rel, ...rest } = withId(attribs);
        const out: sanitizeHtml.Attributes = { ...rest };
        if (name !== undefined) out.name = prefixId(name) ?? "";
        if (href !== undefined) {
          if (href.startsWith("#")) out.href = `#${prefixId(href.slice(1)) ?? ""}`;
          else if (isExternal(href)) {
            out.href = href;
            out.rel = "nofollow noopener noreferrer";
          } else {
            const { path, fragment } = packagePath(href);
            out.href = `${links.file(path)}${fragment}`;
          }
        }
        return { tagName, attribs: out };
      },
      img: (tagName, attribs) => {
        const { src, ...rest } = withId(attribs);
        const out: sanitizeHtml.Attributes = { ...rest };
        if (src !== undefined) out.src = isExternal(src) ? src : links.raw(packagePath(src).path);
        // Many readmes leave images (and so the links around them) without a text; the file's name is better than none.
        if (!out.alt?.trim()) out.alt = imageName(src);
        return { tagName, attribs: out };
      },
      // A <picture>'s sources: each candidate of a srcset, as an image.
      source: (tagName, attribs) => {
        const { srcset, ...rest } = withId(attribs);
        if (srcset === undefined) return { tagName, attribs: rest };
        const candidates = srcset.split(",").map((candidate) => {
          const [url = "", ...descriptors] = candidate.trim().split(/\s+/);
          const to = isExternal(url) ? url : links.raw(packagePath(url).path);
          return [to, ...descriptors].join(" ");
        });
        return { tagName, attribs: { ...rest, srcset: candidates.join(", ") } };
      },
      // A task's checkbox, read out by what it says (it has no label of its own).
      input: (tagName, attribs) => ({
        tagName,
        attribs: {
          type: attribs.type,
          class: "task-list-item-checkbox",
          disabled: "",
          ...(attribs.checked !== undefined
            ? { checked: "", "aria-label": "done" }
            : { "aria-label": "not done" }),
        },
      }),
    },
  };
}

/** A readme, rendered and sanitized; a readme over MAX_README_BYTES as text instead. */
export function renderReadme(source: string, links: ReadmeLinks): RenderedReadme {
  const bytes = Buffer.byteLength(source);
  if (bytes > MAX_README_BYTES) {
    const cut = Buffer.from(source).subarray(0, MAX_README_BYTES).toString("utf8");
    return { kind: "text", text: cut, bytes };
  }
  return { kind: "html", html: sanitizeHtml(markdown.render(source), sanitizeOptions(links)) };
}

/** Readme file names, as npm picks one from a package: README.md, readme.markdown, README… */
const README_FILE = /^readme(\.(md|markdown|mdown|mkdn|txt))?$/i;

/** The readme file at the package's top level, preferring Markdown; undefined if none. */
export function readmeFile<F extends { readonly path: string }>(
  files: readonly F[],
): F | undefined {
  const candidates = files.filter((f) => !f.path.includes("/") && README_FILE.test(f.path));
  const rank = (f: F) => (/\.(md|markdown|mdown|mkdn)$/i.test(f.path) ? 0 : 1);
  return candidates.sort((a, b) => rank(a) - rank(b) || (a.path < b.path ? -1 : 1))[0];
}
