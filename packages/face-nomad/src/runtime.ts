import type { ContainerEnvironments, FaceFile } from "@revoada/fabric-core/face";
import { failed, ok, type Result } from "@revoada/fabric-core/vocabulary";
import { readJobHcl } from "./hcl-read.js";

/**
 * What a Nomad client does to a task's `env` values at run time: after HCL has parsed the
 * jobspec (where `$${` is a literal `${`), it replaces `${NAME}` with Nomad's own variables
 * (`NOMAD_*`), node attributes and metadata (`node.*`, `attr.*`, `meta.*`, `device.*`) and the
 * task's other environment variables. There is no escape for it, so a state value holding
 * `${...}` cannot reach a Nomad container as written: `model.ts` drops such values (and says
 * so), and this models the client's reading of what is written, for the conformance kit.
 * The driver config (command, args) is different: Nomad evaluates it as HCL templates, where
 * `$${` is a literal `${`, so the writer escapes literal values there (`escapeNomadRuntime`).
 */

const interpolation = /\$\{([^{}]+)\}/g;
const runtimeVariable = /^(?:NOMAD_[A-Za-z0-9_]+|(?:node|attr|meta|device)\..+|env\[.+\])$/;

/** Whether Nomad could change `value` at run time (it holds a `${...}`). */
export function isInterpolated(value: string): boolean {
  return /\$\{[^{}]+\}/.test(value);
}

/** The value a task sees: `${...}` resolved against its environment and Nomad's variables. */
export function interpolateNomad(value: string, environment: Readonly<Record<string, string>>): string {
  return value.replace(interpolation, (whole, name: string) => {
    if (Object.hasOwn(environment, name)) return environment[name]!;
    return runtimeVariable.test(name) ? `<nomad ${name}>` : whole;
  });
}

/** Each job's task environment as the Nomad client resolves it, keyed `namespace/name`. */
export async function nomadContainerEnvironments(
  files: readonly FaceFile[],
): Promise<Result<ContainerEnvironments>> {
  const environments: Record<string, Record<string, string>> = {};
  for (const file of files) {
    if (!file.path.endsWith(".nomad.hcl")) continue;
    const read = await readJobHcl(file.path, file.content);
    if (!read.ok) return failed(read.issues);
    const { job } = read.value;
    const environment = job.groups[0]?.tasks[0]?.env ?? {};
    environments[`${job.namespace}/${job.id}`] = Object.fromEntries(
      Object.entries(environment).map(([name, value]) => [name, interpolateNomad(value, environment)]),
    );
  }
  return ok(environments);
}
