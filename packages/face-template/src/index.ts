import { templateFace } from "./template-face.js";

export { templateFace } from "./template-face.js";
export default templateFace;
