/**
 * Goal: face-baremetal passes the shared conformance kit (golden files, round trip of the
 * modelled subset over generated states, byte stability, its Quadlet key validator).
 */
import { fileURLToPath } from "node:url";
import { runFaceConformance } from "@revoada/fabric-core/face/conformance";
import { baremetalFace } from "./baremetal-face.js";

runFaceConformance(baremetalFace, {
  goldenDir: fileURLToPath(new URL("./testdata/golden", import.meta.url)),
});
