export type { RaftApplier, RaftDriverCounters, RaftDriverOptions } from "./driver.js";
export { RaftDriver } from "./driver.js";
export { FabricApplier } from "./fabric-applier.js";
