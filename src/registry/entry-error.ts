/** The error of the entry domain: entries, their resolution fields, package documents. */
import { CodedError } from "../util/coded-error.ts";

export type EntryErrorCode =
  /** Not UTF-8 JSON. */
  | "not-json"
  /** Valid, but not the one canonical encoding. */
  | "not-canonical"
  /** Not the exact schema of its kind: a field missing, unexpected, of the wrong shape or too long. */
  | "bad-field"
  /** Over MAX_ENTRY_SIZE once encoded. */
  | "too-large"
  /** A popularity sketch blob that is not the shape its entry declares. */
  | "bad-sketch"
  /** Well-formed, but it cannot be applied to the state before it. */
  | "cannot-apply"
  /** A package document that is not the canonical encoding of a valid document. */
  | "bad-document";

export class EntryError extends CodedError<EntryErrorCode> {
  override name = "EntryError";
  /** The log index of the entry, when the error is about one in a log. */
  readonly index: number | undefined;

  constructor(
    code: EntryErrorCode,
    message: string,
    options?: { cause?: unknown; index?: number },
  ) {
    super(code, message, options);
    this.index = options?.index;
  }
}
