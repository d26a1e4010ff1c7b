export type { MessageCodec } from "./codec.js";
export { jsonCodec } from "./codec.js";
export type { PeerAddress, TransportOptions } from "./transport.js";
export { Transport } from "./transport.js";
