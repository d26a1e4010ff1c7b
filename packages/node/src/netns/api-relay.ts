import { rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * The API of a node in a network namespace, reached from outside it. A process inside the
 * namespace (`relay-process.ts`) listens on a Unix socket (sockets on a filesystem cross
 * network namespaces) and forwards each connection to the node's API on its own address; the
 * harness listens on host loopback and forwards to that socket. Raft, gossip and content
 * traffic never takes this path: only an operator's (or the chaos client's) HTTP requests do,
 * as a client outside the cluster's network would reach the node.
 */

function pipeBoth(a: Socket, b: Socket): void {
  const close = () => {
    a.destroy();
    b.destroy();
  };
  a.on("error", close);
  b.on("error", close);
  a.on("close", close);
  b.on("close", close);
  a.pipe(b);
  b.pipe(a);
}

/** Inside a namespace: Unix socket `socketPath` -> TCP `host:port`. */
export function relayUnixToTcp(socketPath: string, host: string, port: number): Promise<Server> {
  rmSync(socketPath, { force: true });
  const server = createServer((incoming) => pipeBoth(incoming, connect({ host, port })));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve(server));
  });
}

/** On the harness's side: host loopback `127.0.0.1:port` (0: any free port) -> Unix socket. */
export function relayTcpToUnix(port: number, socketPath: string): Promise<{ server: Server; port: number }> {
  const server = createServer((incoming) => pipeBoth(incoming, connect({ path: socketPath })));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      resolve({ server, port: typeof address === "object" && address !== null ? address.port : 0 });
    });
  });
}
