export type { Envelope, NetworkFaults } from "./network.js";
export { reliableNetwork, SimNetwork } from "./network.js";
export { SeededRandom } from "./random.js";
