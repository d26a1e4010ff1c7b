import { baremetalFace } from "./baremetal-face.js";

export { baremetalFace, formatEntrypoint, parseEntrypoint } from "./baremetal-face.js";
export {
  containerSectionKeys,
  quadletInstallKeys,
  quadletProvides,
  quadletSectionKeys,
  quadletUnitKeys,
} from "./quadlet-keys.js";
export { quadletEquivalentService } from "./quadlet-service.js";
export default baremetalFace;
