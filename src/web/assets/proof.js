// Checks a log entry's inclusion proof in the browser, with WebCrypto only
// (SHA-256, Ed25519), from the material the page embeds (pages/proof.ts):
// the server's word is not trusted. Steps, in order; the first that fails
// ends the check and names itself in the result.
//   key        the verifier key parses and its key ID is SHA-256(name || 0x0A || 0x01 || key)[:4]
//   signature  the checkpoint note carries a valid Ed25519 signature by that key (C2SP signed-note)
//   checkpoint its body names the key's log, a size covering the entry, a 32-byte root (C2SP tlog-checkpoint)
//   leaf       SHA-256(0x00 || entry)
//   root       RFC 9162 §2.1.3.2: the proof leads from the leaf to the checkpoint's root
//   entry      the entry decodes to the kind, package and version the page shows

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const encoder = new TextEncoder();

class StepFailure extends Error {}
class Unsupported extends Error {}

/** Canonical base64 only, as the server's parsers demand; undefined otherwise. */
function base64(text) {
  if (typeof text !== "string" || !STRICT_BASE64.test(text)) return undefined;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  let again = "";
  for (const b of bytes) again += String.fromCharCode(b);
  return btoa(again) === text ? bytes : undefined;
}

function toBase64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

const nodeHash = (left, right) => sha256(concat(Uint8Array.of(0x01), left, right));

function fail(message) {
  throw new StepFailure(message);
}

/** C2SP signed-note vkey: name+keyid+base64(0x01 || 32-byte Ed25519 key). */
async function checkKey(vkey) {
  const first = vkey.indexOf("+");
  const second = vkey.indexOf("+", first + 1);
  if (first <= 0 || second < 0) fail("the verifier key is not name+keyid+key");
  const name = vkey.slice(0, first);
  const idHex = vkey.slice(first + 1, second);
  const raw = base64(vkey.slice(second + 1));
  if (/[\s+]/u.test(name)) fail("the key name has a space or a +");
  if (!/^[0-9a-f]{8}$/.test(idHex)) fail("the key ID is not 8 lowercase hex digits");
  if (raw?.length !== 33 || raw[0] !== 0x01) fail("the key is not a 32-byte Ed25519 key");
  const key = raw.subarray(1);
  const digest = await sha256(concat(encoder.encode(name), Uint8Array.of(0x0a, 0x01), key));
  const computed = hex(digest.subarray(0, 4));
  if (computed !== idHex) fail(`key ID ${idHex} is not ${computed}, the hash of name and key`);
  return {
    name,
    idHex,
    key,
    detail: `${name}, key ID ${idHex} = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]`,
  };
}

/** Splits the note into its text and the signature line by `key`, and verifies that signature. */
async function checkSignature(note, key) {
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) fail("the checkpoint is not a signed note");
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split("\n");
  let signature;
  for (const line of lines) {
    if (!line.startsWith("— ")) fail("a signature line does not start with an em dash");
    const [name, b64, extra] = line.slice(2).split(" ");
    const raw = base64(b64);
    if (extra !== undefined || !raw || raw.length < 5) fail("a signature line is malformed");
    if (name === key.name && hex(raw.subarray(0, 4)) === key.idHex) signature = raw.subarray(4);
  }
  if (!signature) fail(`no signature line by ${key.name} ${key.idHex}`);
  let publicKey;
  try {
    publicKey = await crypto.subtle.importKey("raw", key.key, { name: "Ed25519" }, false, [
      "verify",
    ]);
  } catch (err) {
    if (err instanceof DOMException && err.name === "NotSupportedError")
      throw new Unsupported("this browser's WebCrypto has no Ed25519");
    fail(`the key does not import: ${err.message}`);
  }
  const ok =
    signature.length === 64 &&
    (await crypto.subtle.verify({ name: "Ed25519" }, publicKey, signature, encoder.encode(text)));
  if (!ok) fail(`the signature by ${key.name} does not verify over the checkpoint`);
  return { text, detail: `signed by ${key.name} ${key.idHex}, over the note's text` };
}

/** The checkpoint body: origin line, canonical size, base64 root. */
function checkCheckpoint(text, key, index) {
  const [origin, sizeText, rootText] = text.slice(0, -1).split("\n");
  if (origin !== key.name) fail(`the checkpoint names log ${origin}, not ${key.name}`);
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText ?? "")) fail("the size is not canonical decimal");
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) fail("the size is too large");
  const root = base64(rootText);
  if (root?.length !== 32) fail("the root is not base64 of 32 bytes");
  if (!(index < size)) fail(`entry ${index} is not in a tree of size ${size}`);
  return { size, root, detail: `log ${origin}, size ${size}, root ${rootText}` };
}

/** RFC 9162 §2.1.3.2, as src/log/merkle.ts verifyInclusion. */
async function rootFromProof(index, size, leaf, proof) {
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) fail("the proof is too long");
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) fail("the proof is too short");
  return r;
}

function checkEntry(entryBytes, expect) {
  let entry;
  try {
    entry = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(entryBytes));
  } catch {
    fail("the entry is not UTF-8 JSON");
  }
  if (!expect) fail("the page names no entry to expect");
  for (const field of ["kind", "name", "version"]) {
    if (expect[field] !== undefined && entry?.[field] !== expect[field])
      fail(`the entry's ${field} is ${JSON.stringify(entry?.[field])}, not ${expect[field]}`);
  }
  const about = expect.name ? ` ${expect.name}${expect.version ? `@${expect.version}` : ""}` : "";
  return { detail: `a ${entry.kind} entry${about}, by ${entry.actor ?? "the registry"}` };
}

function show(step, state, detail) {
  const item = document.querySelector(`[data-step="${step}"]`);
  if (!item) return;
  item.dataset.state = state;
  item.querySelector(".step-state").textContent =
    { pass: "pass", fail: "FAIL", unsupported: "cannot check", running: "…" }[state] ?? state;
  item.querySelector(".step-detail").textContent = detail;
}

async function verify(material) {
  let step = "key";
  const steps = {
    key: () => checkKey(material.verifierKey),
    signature: (s) => checkSignature(material.checkpoint, s.key),
    checkpoint: (s) => checkCheckpoint(s.signature.text, s.key, material.index),
    leaf: async () => {
      if (material.entry?.unreadable)
        fail(`this server could not read the entry: ${material.entry.unreadable}`);
      const entry = base64(material.entry);
      if (!entry) fail("the entry is not base64");
      const leaf = await sha256(concat(Uint8Array.of(0x00), entry));
      return {
        entry,
        leaf,
        detail: `SHA-256(0x00 ‖ entry of ${entry.length} bytes) = ${hex(leaf)}`,
      };
    },
    root: async (s) => {
      if (material.proof?.unreadable)
        fail(`this server could not read the proof: ${material.proof.unreadable}`);
      const proof = material.proof.map(base64);
      if (proof.some((h) => h?.length !== 32)) fail("a proof hash is not base64 of 32 bytes");
      const root = await rootFromProof(material.index, s.checkpoint.size, s.leaf.leaf, proof);
      const shown = `${proof.length} hashes from leaf ${material.index} lead to ${toBase64(root)}`;
      if (!equal(root, s.checkpoint.root))
        fail(`${shown}, not to the checkpoint's root ${toBase64(s.checkpoint.root)}`);
      return { detail: `${shown} = the checkpoint's root` };
    },
    entry: (s) => checkEntry(s.leaf.entry, material.expect),
  };
  const results = {};
  const result = document.getElementById("proof-result");
  try {
    for (step of Object.keys(steps)) {
      show(step, "running", "");
      results[step] = await steps[step](results);
      show(step, "pass", results[step].detail);
    }
    result.dataset.state = "pass";
    result.textContent = `Verified in your browser: entry ${material.index} is in the log ${results.key.name} of ${results.checkpoint.size} entries, signed by its key.`;
  } catch (err) {
    const unsupported = err instanceof Unsupported;
    show(step, unsupported ? "unsupported" : "fail", err.message);
    result.dataset.state = unsupported ? "unsupported" : "fail";
    result.textContent = unsupported
      ? `Not verified: ${err.message}, so this browser cannot check the signature (step: ${step}).`
      : `Verification FAILED: ${step}: ${err.message}`;
  }
}

const block = document.getElementById("proof-material");
if (block) {
  document.getElementById("proof-result").textContent = "Verifying…";
  verify(JSON.parse(block.textContent));
}
