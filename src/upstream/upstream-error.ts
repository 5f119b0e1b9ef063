/**
 * What went wrong talking to an uplink (an upstream registry), named so the
 * origin can answer a client with the right status and say which upstream
 * failed. Nothing an uplink sent with one of these errors is kept.
 */
import { CodedError } from "../util/coded-error.ts";

export type UpstreamErrorCode =
  /** The connection was refused or reset, or the host name did not resolve. */
  | "unreachable"
  /** Nothing arrived for the uplink's idle timeout, or the whole exchange outran its deadline. */
  | "timeout"
  /** A 5xx, or a status the exchange does not expect (redirects included). */
  | "bad-status"
  /** 404 or 410: the upstream does not have it. */
  | "not-found"
  /** 401 or 403: the upstream refused our credentials. */
  | "unauthorized"
  /** The body is larger than the uplink's cap, before or after decoding. */
  | "too-large"
  /** The body ended before its declared length, or the connection dropped mid-body. */
  | "truncated"
  /** A packument that is not JSON the project accepts, or not an object. */
  | "bad-json"
  /** Anything else malformed: the wrong package, a tarball URL off the uplink's origin, … */
  | "bad-response"
  /** A tarball whose bytes do not match the hashes the upstream advertised. */
  | "integrity-mismatch";

export class UpstreamError extends CodedError<UpstreamErrorCode> {
  override name = "UpstreamError";
  /** The name of the uplink that failed. */
  readonly uplink: string;

  constructor(
    uplink: { readonly name: string; readonly url: string },
    code: UpstreamErrorCode,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(code, `uplink ${uplink.name} (${withoutCredentials(uplink.url)}): ${detail}`, options);
    this.uplink = uplink.name;
  }
}

/** The URL as a client may see it: credentials in it stay with the origin. */
function withoutCredentials(url: string): string {
  const parsed = URL.parse(url);
  if (!parsed) return "an invalid URL";
  parsed.username = "";
  parsed.password = "";
  return parsed.href;
}
