/**
 * Strict standard base64 (RFC 4648 section 4): padded, no whitespace, and
 * canonical (unused bits zero), so that every value has exactly one encoding.
 */
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes `text`, or returns undefined if it is not canonical base64. */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (!BASE64_RE.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : undefined;
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
