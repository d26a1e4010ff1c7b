/**
 * Goal: face-nomad passes the shared conformance kit: golden files for the example states,
 * read(write(s)) = model(s) over generated states (strings full of `$`, `%`, quotes and
 * backslashes), byte stability, and the validator accepting every output.
 */
import { fileURLToPath } from "node:url";
import { runFaceConformance } from "@revoada/fabric-core/face/conformance";
import { nomadFace } from "./index.js";

runFaceConformance(nomadFace, { goldenDir: fileURLToPath(new URL("./testdata/golden", import.meta.url)) });
