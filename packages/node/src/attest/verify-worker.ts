import { parentPort } from "node:worker_threads";
import { checkSignatureBatch, type SignatureBatch } from "./signature-batch.js";

/**
 * A thread of `verifyChainParallel`: checks the Ed25519 block signatures of each batch it is
 * sent and answers with the positions of those that do not verify.
 */
parentPort!.on("message", (batch: SignatureBatch) => {
  parentPort!.postMessage(checkSignatureBatch(batch));
});
