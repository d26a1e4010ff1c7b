import { relayUnixToTcp } from "./api-relay.js";

/**
 * Entry point of the relay the harness runs inside a node's namespace
 * (`ip netns exec NS node dist/netns/relay-process.js SOCKET HOST PORT`): it serves until killed.
 */
const [socketPath, host, portText] = process.argv.slice(2);
const port = Number(portText);
if (socketPath === undefined || host === undefined || !Number.isInteger(port) || port <= 0 || port > 65_535) {
  process.stderr.write("usage: relay-process.js SOCKET HOST PORT\n");
  process.exit(2);
}
await relayUnixToTcp(socketPath, host, port);
