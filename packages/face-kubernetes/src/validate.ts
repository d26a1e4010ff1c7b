import type { FaceFile } from "@revoada/fabric-core/face";
import type { FabricIssue } from "@revoada/fabric-core/vocabulary";
import { parse, parseAllDocuments } from "yaml";
import {
  locate,
  type ParsedDocument,
  type PathPart,
  parseDocuments,
  unexpectedPaths,
} from "./yaml-documents.js";

/**
 * The Kubernetes face's validator, offline:
 * 1. every document parses, and reads the same under YAML 1.1 (Go's parsers) as under 1.2;
 * 2. `kubernetes-models` accepts it (required fields and types, per the OpenAPI schema);
 * 3. no unknown fields: `@kubernetes/client-node` deserializes into its typed models, which
 *    drop what they do not know, and serializes back; every path that does not survive the
 *    round trip is a field Kubernetes would not know either (`spec.replica`, `contianers`).
 * The two libraries are large (hundreds of model classes), so they load on first use: the
 * writer and reader never pay for them.
 */

type Validate = (data: unknown) => void;

interface Checkers {
  readonly models: Readonly<Record<string, Validate>>;
  readonly roundTrip: (text: string) => unknown[];
}

let checkers: Promise<Checkers> | undefined;

async function loadCheckers(): Promise<Checkers> {
  const [client, apps, configMap, node, pod, service] = await Promise.all([
    import("@kubernetes/client-node"),
    import("kubernetes-models/apps/v1/Deployment"),
    import("kubernetes-models/v1/ConfigMap"),
    import("kubernetes-models/v1/Node"),
    import("kubernetes-models/v1/Pod"),
    import("kubernetes-models/v1/Service"),
  ]);
  const { Deployment } = apps;
  const { ConfigMap } = configMap;
  const { Node } = node;
  const { Pod } = pod;
  const { Service } = service;
  return {
    models: {
      Deployment: (data) => new Deployment(data as ConstructorParameters<typeof Deployment>[0]).validate(),
      Service: (data) => new Service(data as ConstructorParameters<typeof Service>[0]).validate(),
      ConfigMap: (data) => new ConfigMap(data as ConstructorParameters<typeof ConfigMap>[0]).validate(),
      Pod: (data) => new Pod(data as ConstructorParameters<typeof Pod>[0]).validate(),
      Node: (data) => new Node(data as ConstructorParameters<typeof Node>[0]).validate(),
    },
    roundTrip: (text) =>
      (client.loadAllYaml(text) as unknown[]).map((object) => parse(client.dumpYaml(object))),
  };
}

interface AjvError {
  readonly instancePath: string;
  readonly message?: string;
}

function ajvErrors(error: unknown): AjvError[] {
  if (error === null || typeof error !== "object" || !("errors" in error) || !Array.isArray(error.errors)) {
    return [{ instancePath: "", message: String(error) }];
  }
  return error.errors as AjvError[];
}

function pointerPath(pointer: string): PathPart[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function issue(file: string, document: ParsedDocument, path: PathPart[], code: string, message: string) {
  return { code, message, path, file, ...locate(document, path) };
}

function checkModels(
  models: Checkers["models"],
  file: string,
  documents: readonly ParsedDocument[],
): FabricIssue[] {
  const issues: FabricIssue[] = [];
  for (const document of documents) {
    const value = document.value;
    const kind = value !== null && typeof value === "object" && "kind" in value ? String(value.kind) : "";
    const validate = models[kind];
    if (validate === undefined) {
      issues.push(
        issue(file, document, ["kind"], "unknown_kind", `kind ${JSON.stringify(kind)} is not checked`),
      );
      continue;
    }
    try {
      validate(value);
    } catch (error) {
      for (const found of ajvErrors(error)) {
        const path = pointerPath(found.instancePath);
        issues.push(issue(file, document, path, "kubernetes_schema", found.message ?? "invalid"));
      }
    }
  }
  return issues;
}

function checkUnknownFields(
  roundTrip: Checkers["roundTrip"],
  file: FaceFile,
  documents: readonly ParsedDocument[],
): FabricIssue[] {
  const issues: FabricIssue[] = [];
  const survivors = roundTrip(file.content);
  for (const [index, document] of documents.entries()) {
    const survived = survivors[index];
    for (const path of unexpectedPaths(document.value, survived)) {
      const message = "unknown field: @kubernetes/client-node's models do not carry it";
      issues.push(issue(file.path, document, path, "unknown_field", message));
    }
  }
  return issues;
}

function checkYamlVersions(file: FaceFile, documents: readonly ParsedDocument[]): FabricIssue[] {
  const issues: FabricIssue[] = [];
  const asYaml12 = parseAllDocuments(file.content, { version: "1.2" });
  const list = Array.isArray(asYaml12) ? asYaml12 : [];
  for (const [index, document] of documents.entries()) {
    for (const path of unexpectedPaths(document.value, list[index]?.toJS())) {
      const message = "YAML 1.1 (Go) and YAML 1.2 parsers read this differently; quote it";
      issues.push(issue(file.path, document, path, "yaml_ambiguous", message));
    }
  }
  return issues;
}

export async function validateKubernetes(files: readonly FaceFile[]): Promise<FabricIssue[]> {
  checkers ??= loadCheckers();
  const { models, roundTrip } = await checkers;
  const issues: FabricIssue[] = [];
  for (const file of files) {
    const parsed = parseDocuments(file.content, file.path);
    if (!parsed.ok) {
      issues.push(...parsed.issues);
      continue;
    }
    // The canonical subset reads the same under 1.1 and 1.2 by construction (yaml-canonical.test.ts).
    if (!parsed.value.every((document) => document.canonical))
      issues.push(...checkYamlVersions(file, parsed.value));
    const modelIssues = checkModels(models, file.path, parsed.value);
    issues.push(...modelIssues);
    if (modelIssues.length === 0) issues.push(...checkUnknownFields(roundTrip, file, parsed.value));
  }
  return issues;
}
