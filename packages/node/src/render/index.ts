export type { RenderManifest, RenderReport } from "./render-directory.js";
export {
  manifestName,
  RenderConflictError,
  RenderPathError,
  readDirectoryFiles,
  readManifest,
  renderToDirectory,
} from "./render-directory.js";
export type { NodeViewFiles } from "./views.js";
export { allNodeViews, findNode } from "./views.js";
