/**
 * A request body read whole, up to a cap, before it is parsed: a body that
 * says it is over the cap is refused before a byte is read, one that grows
 * past it stops there, and one that ends short of its `Content-Length`
 * (the client went away) is refused, so nothing half-read is ever parsed.
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { CargoError } from "./rules/errors.ts";

export async function readBody(
  stream: AsyncIterable<Uint8Array> | undefined,
  headers: IncomingHttpHeaders,
  max: number,
): Promise<Buffer> {
  const declared = headers["content-length"];
  if (declared !== undefined && Number(declared) > max)
    throw new CargoError("too-large", `the body is over ${max} bytes`);
  if (stream === undefined) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      size += chunk.length;
      if (size > max) throw new CargoError("too-large", `the body is over ${max} bytes`);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof CargoError) throw err;
    throw new CargoError("bad-body", "the body ended before it was complete", { cause: err });
  }
  if ((stream as Partial<IncomingMessage>).complete === false)
    throw new CargoError("bad-body", "the body ended before it was complete");
  return Buffer.concat(chunks, size);
}
