/**
 * Listening on a free loopback port (or a free port of `host`), with a close
 * that does not wait for idle or stalled clients.
 */
import type { Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export async function listenOnLoopback(
  server: Server,
  host = "127.0.0.1",
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
