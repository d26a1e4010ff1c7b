export type { RaftApplier, RaftDriverOptions } from "./driver.js";
export { RaftDriver } from "./driver.js";
