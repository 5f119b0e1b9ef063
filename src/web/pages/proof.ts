/**
 * A log entry and the proof that the signed checkpoint covers it
 * (`/-/web/entry/<index>`, and a version's `/proof`). The server sends
 * what it holds, unchecked (raw-log.ts), as a JSON data block; the
 * browser checks it (assets/proof.js): the key, the checkpoint's
 * signature, the leaf hash, the inclusion proof to the root, and that the
 * entry says what the page says. Without JavaScript every byte is still
 * on the page for anyone to check by other means.
 */
import { encodeBase64 } from "../../log/base64.ts";
import { isLogError } from "../../log/errors.ts";
import { parseVerifierKey } from "../../log/note.ts";
import { describeCosignatures } from "../../log/policy.ts";
import { decodeEntry, type Entry, type EntryKind } from "../../registry/entries.ts";
import { isImportedVersion } from "../../registry/package-document.ts";
import { WebError } from "../errors.ts";
import { html, type VNode } from "../html.ts";
import type { PageContext, WebResult } from "../page.ts";
import { paths } from "../paths.ts";
import {
  type InclusionMaterial,
  inclusionMaterial,
  isUnreadable,
  rawLog,
  type Unreadable,
} from "../raw-log.ts";

/** What the entry must decode to, for the browser to agree with the page. */
interface Expected {
  readonly kind: EntryKind;
  readonly name?: string;
  readonly version?: string;
}

/** The steps proof.js runs, in order, by id; it fills in each one's result. */
const STEPS: readonly [id: string, label: string][] = [
  ["key", "Verifier key"],
  ["signature", "Checkpoint signature (Ed25519)"],
  ["checkpoint", "Checkpoint body"],
  ["leaf", "Leaf hash"],
  ["root", "Inclusion proof to the checkpoint's root"],
  ["entry", "Entry contents"],
];

/** Parses an entry index from a URL: canonical decimal only. */
export function parseEntryIndex(text: string): number {
  const index = /^(0|[1-9][0-9]{0,15})$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(index))
    throw new WebError("bad-request", `${JSON.stringify(text)} is not a log index`);
  return index;
}

async function materialOf(ctx: PageContext, index: number): Promise<InclusionMaterial> {
  const log = rawLog(ctx.source.log);
  try {
    return await inclusionMaterial(log, index);
  } catch (err) {
    if (isLogError(err, "out-of-range"))
      throw new WebError("not-found", `the log has no entry ${index}`, { cause: err });
    throw err;
  }
}

function decoded(bytes: Uint8Array | Unreadable): Entry | undefined {
  if (isUnreadable(bytes)) return undefined;
  try {
    return decodeEntry(bytes);
  } catch {
    return undefined;
  }
}

export async function entryPage(ctx: PageContext, indexText: string): Promise<WebResult> {
  const index = parseEntryIndex(indexText);
  const material = await materialOf(ctx, index);
  const entry = decoded(material.entry);
  return proofResult(ctx, {
    title: `Log entry ${index}`,
    heading: html`<h1>Log entry ${index}</h1>
      <p><a href=${paths.log(index + 1)}>The entries around it</a></p>`,
    material,
    entry,
    expected: entry && {
      kind: entry.kind,
      ...("name" in entry ? { name: entry.name } : {}),
      ...("version" in entry && typeof entry.version === "string"
        ? { version: entry.version }
        : {}),
    },
  });
}

export async function versionProofPage(
  ctx: PageContext,
  view: { readonly name: string; readonly version: string },
): Promise<WebResult> {
  const { name, version } = view;
  await ctx.source.packages.beforeRead?.();
  const doc = await ctx.source.packages.document(name);
  const held = doc?.versions[version];
  if (!held) throw new WebError("not-found", `${name}@${version} is not in this registry`);
  const material = await materialOf(ctx, held.index);
  return proofResult(ctx, {
    title: `Proof of ${name}@${version}`,
    heading: html`<h1>
        Proof of <a href=${paths.package(name)}>${name}</a>@<a
          href=${paths.version(name, version)}
          >${version}</a
        >
      </h1>
      <p>
        The ${isImportedVersion(held) ? "import" : "publish"} entry of this version is log entry${" "}
        <a href=${paths.entry(held.index)}>${held.index}</a>.
      </p>`,
    material,
    entry: decoded(material.entry),
    expected: { kind: isImportedVersion(held) ? "import" : "publish", name, version },
  });
}

interface ProofView {
  readonly title: string;
  readonly heading: VNode;
  readonly material: InclusionMaterial;
  readonly entry: Entry | undefined;
  readonly expected: Expected | undefined;
}

const hex8 = (n: number) => n.toString(16).padStart(8, "0");

/** JSON for a `<script type="application/json">` block: nothing in it can close the element. */
function dataBlock(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll("<", "\\u003c")
    .replaceAll(">", "\\u003e")
    .replaceAll("&", "\\u0026")
    .replaceAll("\u2028", "\\u2028")
    .replaceAll("\u2029", "\\u2029");
}

function pretty(bytes: Uint8Array): string | undefined {
  try {
    return JSON.stringify(JSON.parse(new TextDecoder().decode(bytes)), null, 2);
  } catch {
    return undefined;
  }
}

function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

interface SignatureLine {
  readonly name: string;
  readonly keyId: number;
  readonly timestamp?: number;
}

/** The note's signature lines that are not the registry key's, with the time each cosignature line carries. */
function cosignaturesOf(note: string, verifierKey: string): SignatureLine[] | undefined {
  try {
    return describeCosignatures(note, [parseVerifierKey(verifierKey)]);
  } catch {
    return undefined; // A note that does not parse: the page lists what it can, the browser's check fails.
  }
}

function proofResult(ctx: PageContext, view: ProofView): WebResult {
  const { material, entry } = view;
  const cp = material.checkpoint;
  const keyName = ctx.source.verifierKey.slice(0, ctx.source.verifierKey.indexOf("+"));
  const keyIdHex = ctx.source.verifierKey.split("+")[1] ?? "";
  const isSigner = (s: { name: string; keyId: number }) =>
    s.name === keyName && hex8(s.keyId) === keyIdHex;
  const others: readonly SignatureLine[] =
    cosignaturesOf(cp.note, ctx.source.verifierKey) ?? cp.signatures.filter((s) => !isSigner(s));
  const data = {
    checkpoint: cp.note,
    verifierKey: ctx.source.verifierKey,
    index: material.index,
    // An unreadable part goes as the reason: the browser fails that step with it.
    entry: isUnreadable(material.entry) ? material.entry : encodeBase64(material.entry),
    proof: isUnreadable(material.proof) ? material.proof : material.proof.map(encodeBase64),
    tiles: material.tiles,
    bundle: material.bundle,
    expect: view.expected ?? null,
  };
  return {
    kind: "page",
    title: view.title,
    description: `Log entry ${material.index} and its inclusion proof, checked in the browser`,
    scripts: ["proof.js"],
    body: html`<article class="proof">
      ${view.heading}
      <section class="proof-check" aria-labelledby="check-heading">
        <h2 id="check-heading">Checked in your browser</h2>
        <p>
          This page does not ask you to trust this server. It sends the checkpoint, the entry and
          the proof hashes as it holds them, unchecked; your browser checks them itself with
          WebCrypto against the registry's public key, and says below what it found.
        </p>
        <p id="proof-result" class="proof-result" role="status" aria-live="polite">
          Verification needs JavaScript: it runs in your browser, not on this server. All the
          material it checks is shown below.
        </p>
        <ol class="proof-steps">
          ${STEPS.map(
            ([id, label]) =>
              html`<li data-step=${id}>
                <span class="step-state">not run</span>
                <span class="step-label">${label}</span>
                <span class="step-detail"></span>
              </li>`,
          )}
        </ol>
      </section>
      <section aria-labelledby="entry-heading">
        <h2 id="entry-heading">The entry</h2>
        ${entrySummary(material.index, entry)} ${entryBytes(material.entry, material.bundle)}
      </section>
      <section aria-labelledby="checkpoint-heading">
        <h2 id="checkpoint-heading">The checkpoint that covers it</h2>
        <dl class="facts">
          <dt>Origin</dt>
          <dd><code>${cp.origin}</code></dd>
          <dt>Size</dt>
          <dd>${cp.size.toLocaleString("en")} entries</dd>
          <dt>Root hash</dt>
          <dd><code class="hash">${encodeBase64(cp.root)}</code></dd>
          <dt>Signed by</dt>
          <dd>
            ${
              cp.signatures.some(isSigner)
                ? html`<code>${keyName}</code> key <code>${keyIdHex}</code> (the registry's key)`
                : html`<span class="bad">no signature line names the registry's key</span>`
            }
          </dd>
          <dt>Cosignatures (witnesses)</dt>
          <dd>
            ${
              others.length === 0
                ? "none"
                : html`<ul class="plain">
                    ${others.map(
                      (s) =>
                        html`<li><code>${s.name}</code> key <code>${hex8(s.keyId)}</code>${
                          s.timestamp === undefined
                            ? ""
                            : html`, cosigned at <time datetime=${isoTime(s.timestamp)}>${isoTime(s.timestamp)}</time> (as the line says: unchecked here)`
                        }</li>`,
                    )}
                  </ul>`
            }
          </dd>
          <dt>Verifier key</dt>
          <dd><code class="hash">${ctx.source.verifierKey}</code></dd>
        </dl>
        <h3>The signed note, as served</h3>
        <pre class="raw">${cp.note}</pre>
      </section>
      <section aria-labelledby="path-heading">
        <h2 id="path-heading">The inclusion proof</h2>
        ${proofHashes(material)}
      </section>
      <script
        type="application/json"
        id="proof-material"
        dangerouslySetInnerHTML=${{ __html: dataBlock(data) }}
      ></script>
    </article>`,
  };
}

function entrySummary(index: number, entry: Entry | undefined): VNode {
  if (!entry) return html`<p class="bad">The entry does not decode as a registry entry.</p>`;
  const name = "name" in entry ? entry.name : undefined;
  const version =
    "version" in entry && typeof entry.version === "string" ? entry.version : undefined;
  return html`<dl class="facts">
    <dt>Index</dt>
    <dd>${index}</dd>
    <dt>Kind</dt>
    <dd>${entry.kind}</dd>
    ${
      name === undefined
        ? null
        : html`<dt>Package</dt>
            <dd><a href=${paths.package(name)}>${name}</a></dd>`
    }
    ${
      name === undefined || version === undefined
        ? null
        : html`<dt>Version</dt>
            <dd><a href=${paths.version(name, version)}>${version}</a></dd>`
    }
    ${
      "actor" in entry
        ? html`<dt>Actor</dt>
            <dd>${entry.actor}</dd>`
        : null
    }
    <dt>Time</dt>
    <dd><time datetime=${entry.time}>${entry.time}</time></dd>
  </dl>`;
}

function entryBytes(entry: Uint8Array | Unreadable, bundle: string): VNode {
  if (isUnreadable(entry))
    return html`<p class="bad">This server could not read the entry: ${entry.unreadable}</p>`;
  const json = pretty(entry);
  return html`${
    json === undefined
      ? html`<p class="bad">The entry is not JSON.</p>`
      : html`<pre class="json">${json}</pre>`
  }
    <h3>Raw bytes (${entry.length} bytes, from <code>${bundle}</code>)</h3>
    <pre class="raw">${new TextDecoder().decode(entry)}</pre>`;
}

function proofHashes(material: InclusionMaterial): VNode {
  const { proof, tiles } = material;
  if (isUnreadable(proof))
    return html`<p class="bad">This server could not read the proof: ${proof.unreadable}</p>`;
  return html`<p>
      ${proof.length} hash${proof.length === 1 ? "" : "es"} from leaf${" "}
      ${material.index} up to the root of the tree of ${material.checkpoint.size} (RFC 9162
      §2.1.3), read from${" "}
      ${
        tiles.length === 0
          ? "no tile (the tree has one entry)"
          : tiles.map((t, i) => html`${i > 0 ? ", " : ""}<code>${t}</code>`)
      }.
    </p>
    <ol class="hashes">
      ${proof.map((h) => html`<li><code class="hash">${encodeBase64(h)}</code></li>`)}
    </ol>`;
}
