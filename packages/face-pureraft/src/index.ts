import { pureraftFace } from "./pureraft-face.js";

export {
  checkStateIntegrity,
  pureraftFace,
  rpcSchemaPath,
  statePath,
  stateSchemaPath,
} from "./pureraft-face.js";
export { fabricStateJsonSchema, raftRpcJsonSchema } from "./raft-rpc-schema.js";
export default pureraftFace;
