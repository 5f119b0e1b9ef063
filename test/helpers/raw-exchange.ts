/** One whole HTTP/1.1 exchange over a loopback socket, for comparing responses byte for byte. */
import { connect } from "node:net";

/** The response's bytes as latin1 text, its Date header taken out. */
export async function rawExchange(port: number, method: string, target: string): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  socket.end(`${method} ${target} HTTP/1.1\r\nHost: peer\r\nConnection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString("latin1")
    .replace(/\r\ndate: [^\r]*/i, "");
}
