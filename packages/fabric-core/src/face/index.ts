export type {
  DroppedField,
  Face,
  FaceFile,
  FaceReader,
  FaceWriter,
  ReadResult,
  RenderScope,
  UnknownField,
  WriteResult,
} from "./contract.js";
