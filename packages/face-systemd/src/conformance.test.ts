/**
 * Goal: face-systemd passes the shared conformance kit (golden files, round trip of the
 * modelled subset over generated states, byte stability, its own validator).
 */
import { fileURLToPath } from "node:url";
import { runFaceConformance } from "@revoada/fabric-core/face/conformance";
import { systemdFace } from "./systemd-face.js";

runFaceConformance(systemdFace, { goldenDir: fileURLToPath(new URL("./testdata/golden", import.meta.url)) });
