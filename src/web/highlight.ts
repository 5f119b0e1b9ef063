/**
 * Source text as HTML lines, highlighted on the server by highlight.js.
 * The language comes from the file's name alone: guessing from content
 * costs a pass per language and guesses wrong on short files. highlight.js
 * escapes every character of the text it wraps in `<span class="hljs-…">`,
 * so its output is HTML this folder can trust; plain text goes through
 * escapeHtml. Each line is closed on its own (spans that run across a
 * newline, as a block comment does, are closed and reopened), so every
 * line can carry its own anchor.
 */
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import csharp from "highlight.js/lib/languages/csharp";
import css from "highlight.js/lib/languages/css";
import diff from "highlight.js/lib/languages/diff";
import go from "highlight.js/lib/languages/go";
import graphql from "highlight.js/lib/languages/graphql";
import ini from "highlight.js/lib/languages/ini";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import kotlin from "highlight.js/lib/languages/kotlin";
import less from "highlight.js/lib/languages/less";
import lua from "highlight.js/lib/languages/lua";
import makefile from "highlight.js/lib/languages/makefile";
import markdown from "highlight.js/lib/languages/markdown";
import perl from "highlight.js/lib/languages/perl";
import php from "highlight.js/lib/languages/php";
import python from "highlight.js/lib/languages/python";
import ruby from "highlight.js/lib/languages/ruby";
import rust from "highlight.js/lib/languages/rust";
import scss from "highlight.js/lib/languages/scss";
import sql from "highlight.js/lib/languages/sql";
import swift from "highlight.js/lib/languages/swift";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

const LANGUAGES = {
  bash,
  c,
  cpp,
  csharp,
  css,
  diff,
  go,
  graphql,
  ini,
  java,
  javascript,
  json,
  kotlin,
  less,
  lua,
  makefile,
  markdown,
  perl,
  php,
  python,
  ruby,
  rust,
  scss,
  sql,
  swift,
  typescript,
  xml,
  yaml,
};

export type Language = keyof typeof LANGUAGES;

/**
 * Highlighting blocks the server for its whole run, about 1.7 ms per KiB
 * (measured on 300 to 400 KiB JavaScript files); past this, plain text.
 */
export const HIGHLIGHT_LIMIT = 256 * 1024;

/** A line this long is a minified bundle: colours would not make it readable. */
const MINIFIED_LINE = 5000;

/** The language to highlight a text in: by its file name, unless it is too big or minified. */
export function highlightAs(path: string, text: string): Language | undefined {
  if (text.length > HIGHLIGHT_LIMIT) return undefined;
  let start = 0;
  for (let end = text.indexOf("\n"); ; end = text.indexOf("\n", start)) {
    if ((end < 0 ? text.length : end) - start > MINIFIED_LINE) return undefined;
    if (end < 0) break;
    start = end + 1;
  }
  return languageOf(path);
}

for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);

const BY_EXTENSION: Readonly<Record<string, Language>> = {
  js: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  jsx: "javascript",
  ts: "typescript",
  mts: "typescript",
  cts: "typescript",
  tsx: "typescript",
  json: "json",
  jsonc: "json",
  json5: "json",
  map: "json",
  css: "css",
  scss: "scss",
  less: "less",
  html: "xml",
  htm: "xml",
  xhtml: "xml",
  xml: "xml",
  svg: "xml",
  vue: "xml",
  md: "markdown",
  markdown: "markdown",
  yml: "yaml",
  yaml: "yaml",
  sh: "bash",
  bash: "bash",
  zsh: "bash",
  py: "python",
  rb: "ruby",
  go: "go",
  rs: "rust",
  c: "c",
  h: "c",
  cc: "cpp",
  cpp: "cpp",
  cxx: "cpp",
  hh: "cpp",
  hpp: "cpp",
  cs: "csharp",
  java: "java",
  kt: "kotlin",
  lua: "lua",
  php: "php",
  pl: "perl",
  pm: "perl",
  sql: "sql",
  swift: "swift",
  ini: "ini",
  cfg: "ini",
  toml: "ini",
  graphql: "graphql",
  gql: "graphql",
  diff: "diff",
  patch: "diff",
  gyp: "json",
  gypi: "json",
};

/** Whole file names that say their language without an extension (or despite it). */
const BY_NAME: Readonly<Record<string, Language>> = {
  makefile: "makefile",
  gnumakefile: "makefile",
  ".npmrc": "ini",
  ".editorconfig": "ini",
  ".babelrc": "json",
  ".eslintrc": "json",
  ".prettierrc": "json",
  ".jshintrc": "json",
};

/** The language of a file by its name, or undefined for plain text. */
export function languageOf(path: string): Language | undefined {
  const base = path.slice(path.lastIndexOf("/") + 1).toLowerCase();
  const named = BY_NAME[base];
  if (named) return named;
  const dot = base.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const extension = base.slice(dot + 1);
  return Object.hasOwn(BY_EXTENSION, extension) ? BY_EXTENSION[extension] : undefined;
}

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]);
}

/** The text's lines without their line ends; a final line end starts no extra line. */
function textLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines.at(-1) === "") lines.pop();
  return lines;
}

/** Splits highlight.js output into lines, each with its open spans closed and reopened on the next. */
function splitHighlighted(highlighted: string): string[] {
  const lines: string[] = [];
  const open: string[] = [];
  let line = "";
  for (const token of highlighted.split(/(<span class="[^"<>]*">|<\/span>|\r?\n)/)) {
    if (token === "") continue;
    if (token === "\n" || token === "\r\n") {
      lines.push(line + "</span>".repeat(open.length));
      line = open.join("");
    } else if (token === "</span>") {
      open.pop();
      line += token;
    } else {
      if (token.startsWith("<span ")) open.push(token);
      line += token;
    }
  }
  lines.push(line + "</span>".repeat(open.length));
  return lines;
}

/**
 * The text as escaped HTML, one string per line: highlighted when a
 * language is given, escaped plain text otherwise.
 */
export function htmlLines(text: string, language: Language | undefined): string[] {
  if (language === undefined) return textLines(text).map(escapeHtml);
  const highlighted = hljs.highlight(text, { language, ignoreIllegals: true }).value;
  const lines = splitHighlighted(highlighted);
  // highlight.js keeps the text's line ends, so the counts agree; a final newline adds no line.
  const expected = textLines(text).length;
  return lines.length > expected ? lines.slice(0, expected) : lines;
}
