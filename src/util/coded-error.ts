/**
 * The base of each domain's error class: a `code` from a closed union that
 * callers (and the HTTP layer) branch on, a message for people, a cause.
 */
export class CodedError<Code extends string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
