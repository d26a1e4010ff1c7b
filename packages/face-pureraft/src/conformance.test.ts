/**
 * Goal: face-pureraft passes the shared conformance kit (golden files, lossless round trip
 * over generated states, byte stability, validator).
 */
import { fileURLToPath } from "node:url";
import { runFaceConformance } from "@revoada/fabric-core/face/conformance";
import { pureraftFace } from "./pureraft-face.js";

runFaceConformance(pureraftFace, { goldenDir: fileURLToPath(new URL("./testdata/golden", import.meta.url)) });
