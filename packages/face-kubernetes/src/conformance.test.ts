/**
 * Goal: face-kubernetes passes the shared conformance kit: golden files for the example
 * states, read(write(s)) = model(s) over generated states, byte stability, and the
 * validator (kubernetes-models + client-node unknown-field check) accepting every output.
 */
import { fileURLToPath } from "node:url";
import { runFaceConformance } from "@revoada/fabric-core/face/conformance";
import { kubernetesFace } from "./index.js";

runFaceConformance(kubernetesFace, {
  goldenDir: fileURLToPath(new URL("./testdata/golden", import.meta.url)),
});
