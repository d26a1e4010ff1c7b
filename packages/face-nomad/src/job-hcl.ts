import { formatDuration } from "./duration.js";
import { attribute, block, type HclBody, type HclItem, printHcl } from "./hcl-printer.js";
import type { Agent, Check, Job, Port, RestartPolicy, ServerJoin, Service, Task, TaskGroup } from "./ir.js";

/**
 * The IR as an HCL2 jobspec (`nomad job run web.nomad.hcl`) and the agent as an HCL agent
 * configuration. Empty lists and maps are left out; the readers read them back as empty.
 */

function optionalList(name: string, values: readonly string[]): HclItem[] {
  return values.length > 0 ? [attribute(name, values)] : [];
}

function optionalMap(name: string, map: Readonly<Record<string, string>>): HclItem[] {
  return Object.keys(map).length > 0 ? [attribute(name, { map })] : [];
}

function portBlock(port: Port): HclItem {
  return block("port", [port.label], [attribute("to", port.to)]);
}

function checkBlock(check: Check): HclItem {
  return block(
    "check",
    [],
    [
      attribute("type", check.type),
      ...(check.path === undefined ? [] : [attribute("path", check.path)]),
      attribute("interval", formatDuration(check.interval)),
      attribute("timeout", formatDuration(check.timeout)),
    ],
  );
}

function serviceBlock(service: Service): HclItem {
  return block(
    "service",
    [],
    [
      attribute("name", service.name),
      attribute("port", service.port),
      attribute("provider", service.provider),
      ...optionalList("tags", service.tags),
      ...service.checks.map(checkBlock),
    ],
  );
}

function restartBlock(restart: RestartPolicy): HclItem {
  return block(
    "restart",
    [],
    [
      attribute("attempts", restart.attempts),
      attribute("interval", formatDuration(restart.interval)),
      attribute("delay", formatDuration(restart.delay)),
      attribute("mode", restart.mode),
    ],
  );
}

function taskBlock(task: Task): HclItem {
  const resources: HclItem[] = [];
  if (task.resources.cpu > 0) resources.push(attribute("cpu", task.resources.cpu));
  if (task.resources.memory_mb > 0) resources.push(attribute("memory", task.resources.memory_mb));
  return block(
    "task",
    [task.name],
    [
      attribute("driver", task.driver),
      block(
        "config",
        [],
        [
          attribute("image", task.config.image),
          ...optionalList("entrypoint", task.config.entrypoint),
          ...optionalList("args", task.config.args),
          ...optionalList("ports", task.config.ports),
        ],
      ),
      ...optionalMap("env", task.env),
      ...(resources.length > 0 ? [block("resources", [], resources)] : []),
    ],
  );
}

function groupBlock(group: TaskGroup): HclItem {
  return block(
    "group",
    [group.name],
    [
      attribute("count", group.count),
      ...(group.ports.length > 0 ? [block("network", [], group.ports.map(portBlock))] : []),
      ...group.services.map(serviceBlock),
      restartBlock(group.restart),
      ...group.tasks.map(taskBlock),
    ],
  );
}

export function jobBody(job: Job): HclBody {
  return [
    block(
      "job",
      [job.id],
      [
        attribute("namespace", job.namespace),
        attribute("type", job.type),
        attribute("datacenters", job.datacenters),
        ...job.constraints.map((constraint) =>
          block(
            "constraint",
            [],
            [
              attribute("attribute", constraint.attribute),
              attribute("operator", constraint.operator),
              attribute("value", constraint.value),
            ],
          ),
        ),
        ...job.affinities.map((affinity) =>
          block(
            "affinity",
            [],
            [
              attribute("attribute", affinity.attribute),
              attribute("operator", affinity.operator),
              attribute("value", affinity.value),
              attribute("weight", affinity.weight),
            ],
          ),
        ),
        ...job.spreads.map((spread) =>
          block(
            "spread",
            [],
            [
              attribute("attribute", spread.attribute),
              attribute("weight", spread.weight),
              ...spread.targets.map((target) =>
                block("target", [target.value], [attribute("percent", target.percent)]),
              ),
            ],
          ),
        ),
        ...optionalMap("meta", job.meta),
        ...job.groups.map(groupBlock),
      ],
    ),
  ];
}

export function jobHcl(job: Job): string {
  return printHcl(jobBody(job));
}

function serverJoinBlock(join: ServerJoin | undefined): HclItem[] {
  return join === undefined ? [] : [block("server_join", [], [attribute("retry_join", join.retry_join)])];
}

export function agentHcl(agent: Agent): string {
  const body: HclItem[] = [attribute("name", agent.name)];
  if (agent.datacenter !== undefined) body.push(attribute("datacenter", agent.datacenter));
  body.push(attribute("data_dir", agent.data_dir));
  if (agent.server !== undefined) {
    body.push(
      block(
        "server",
        [],
        [
          attribute("enabled", agent.server.enabled),
          attribute("bootstrap_expect", agent.server.bootstrap_expect),
          ...serverJoinBlock(agent.server.server_join),
        ],
      ),
    );
  }
  body.push(
    block(
      "client",
      [],
      [
        attribute("enabled", agent.client.enabled),
        ...optionalMap("meta", agent.client.meta),
        ...serverJoinBlock(agent.client.server_join),
      ],
    ),
  );
  return printHcl(body);
}
