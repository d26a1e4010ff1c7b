export type { RaftApplier, RaftDriverCounters, RaftDriverOptions } from "./driver.js";
export { RaftDriver } from "./driver.js";
