/**
 * Goal: this face passes the shared conformance kit (golden files, round trip over generated
 * states, byte stability, the face's own validator). `UPDATE_GOLDEN=1` rewrites the goldens
 * after a deliberate change to the files the face writes; review the diff like code.
 */
import { fileURLToPath } from "node:url";
import { runFaceConformance } from "@revoada/fabric-core/face/conformance";
import { templateFace } from "./template-face.js";

runFaceConformance(templateFace, { goldenDir: fileURLToPath(new URL("./testdata/golden", import.meta.url)) });
