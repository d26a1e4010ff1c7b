import type { Job } from "./ir.js";

/**
 * Nomad's own rules that neither parser enforces (the HCL parser accepts duplicate group
 * names, verified): unique group, task and port names, and services and driver configs that
 * name ports the group's network declares. Returns `[path, message]` pairs in IR terms.
 */
export function jobProblems(job: Job): [(string | number)[], string][] {
  const problems: [(string | number)[], string][] = [];
  const groups = new Set<string>();
  for (const [groupIndex, group] of job.groups.entries()) {
    const at = ["groups", groupIndex];
    if (groups.has(group.name)) problems.push([[...at, "name"], `duplicate group name ${group.name}`]);
    groups.add(group.name);
    const ports = new Set<string>();
    for (const port of group.ports) {
      if (ports.has(port.label)) problems.push([[...at, "ports"], `duplicate port label ${port.label}`]);
      ports.add(port.label);
    }
    for (const [serviceIndex, service] of group.services.entries()) {
      if (!ports.has(service.port)) {
        problems.push([
          [...at, "services", serviceIndex, "port"],
          `service names undeclared port ${service.port}`,
        ]);
      }
    }
    const tasks = new Set<string>();
    for (const [taskIndex, task] of group.tasks.entries()) {
      if (tasks.has(task.name))
        problems.push([[...at, "tasks", taskIndex, "name"], `duplicate task name ${task.name}`]);
      tasks.add(task.name);
      for (const port of task.config.ports) {
        if (!ports.has(port))
          problems.push([[...at, "tasks", taskIndex, "config", "ports"], `undeclared port ${port}`]);
      }
    }
  }
  return problems;
}
