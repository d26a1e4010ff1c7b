/// <reference lib="dom" />
/**
 * The web console's page script (runs in the browser; compiled with the node package and
 * served from dist/ui/client/console.js). One event stream on `/v1/events` feeds every view;
 * each named event replaces one topic and re-renders the views that read it. The stream is
 * read with `fetch` (server-sent events parsed here), not `EventSource`, so that it can send
 * the token where reads are closed (HTTPS clusters, docs/join.md). The token (the read token
 * or the API token) lives in this module's memory only: it is typed by the operator, sent as
 * a bearer header with the stream and with mutations, never stored, logged or put in a URL.
 */
import type { ConsoleTopicName, ConsoleTopics } from "../console-topics.js";

type Topics = Partial<ConsoleTopics>;
type ViewName = "mesh" | "raft" | "shifts" | "policy" | "workloads" | "content";

const viewNames: readonly ViewName[] = ["mesh", "raft", "shifts", "policy", "workloads", "content"];
const topicNames: readonly ConsoleTopicName[] = [
  "serving",
  "raft",
  "mesh",
  "state",
  "decisions",
  "chain",
  "blobs",
];
/** Which views read which topic. */
const readers: Readonly<Record<ConsoleTopicName, readonly ViewName[]>> = {
  serving: [],
  raft: ["raft", "mesh"],
  mesh: ["mesh"],
  state: ["mesh", "workloads", "shifts", "policy", "content", "raft"],
  decisions: ["policy"],
  chain: ["shifts"],
  blobs: ["content"],
};

const topics: Topics = {};
let token: string | null = null;
let current: ViewName = "mesh";
/** The open event stream; aborted to reconnect (a new token, a dropped connection). */
let stream: AbortController | null = null;
/** An event's text is at most this long (the chain topic is the largest): a bounded decoder. */
const eventCharsMax = 16 * 1024 * 1024;

type Child = Node | string | null | undefined;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Readonly<Record<string, string>> = {},
  ...children: readonly Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

function byId(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element;
}

function table(headers: readonly string[], rows: readonly (readonly Child[])[], testId: string): HTMLElement {
  return el(
    "table",
    { "data-testid": testId },
    el("thead", {}, el("tr", {}, ...headers.map((header) => el("th", {}, header)))),
    el("tbody", {}, ...rows.map((row) => el("tr", {}, ...row.map((cell) => el("td", {}, cell))))),
  );
}

function badge(text: string, tone: "ok" | "warn" | "bad" | "muted", testId?: string): HTMLElement {
  return el(
    "span",
    { class: `badge ${tone}`, ...(testId === undefined ? {} : { "data-testid": testId }) },
    text,
  );
}

function card(label: string, value: Child, testId: string): HTMLElement {
  return el(
    "div",
    { class: "card" },
    el("div", { class: "label" }, label),
    el("div", { class: "value", "data-testid": testId }, value),
  );
}

function short(id: string): string {
  return id.slice(0, 8);
}

function nameOf(id: string): string {
  return topics.state?.nodes[id]?.name ?? topics.mesh?.find((member) => member.id === id)?.name ?? short(id);
}

function time(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "Z");
}

function bytes(size: number): string {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}

function empty(message: string): HTMLElement {
  return el("p", { class: "empty" }, message);
}

function replace(view: ViewName, ...children: readonly Child[]): void {
  const section = byId(`view-${view}`);
  section.replaceChildren(
    ...children.filter((child): child is Node | string => child !== null && child !== undefined),
  );
}

// ---- views ----------------------------------------------------------------------------

function leaderRow(): { name: string; term: number } | null {
  const rows = topics.raft ?? [];
  const leader = rows.find((row) => row.status?.raft.state === "leader");
  return leader?.status ? { name: leader.name, term: leader.status.raft.term } : null;
}

function renderMesh(): void {
  const members = topics.mesh ?? [];
  const state = topics.state;
  const alive = members.filter((member) => member.status === "alive").length;
  const leader = leaderRow();
  const voters = state ? Object.values(state.nodes).filter((node) => node.roles.includes("etcd")).length : 0;
  const rows = [...members]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((member) => {
      const committed = state?.nodes[member.id];
      const tone = member.status === "alive" ? "ok" : member.status === "suspect" ? "warn" : "bad";
      return [
        el("strong", {}, member.name),
        el("code", { title: member.id }, short(member.id)),
        badge(member.status, tone, `mesh-status-${member.name}`),
        member.phi.toFixed(2),
        (committed?.roles ?? member.roles).join(", ") || "—",
        member.zone || "—",
        committed?.rack || "—",
        committed ? `${committed.capacity.cpu_millis}m / ${bytes(committed.capacity.memory_bytes)}` : "—",
        member.addresses.api ?? "—",
      ];
    });
  replace(
    "mesh",
    el(
      "div",
      { class: "cards" },
      card("members alive", `${alive} / ${members.length}`, "mesh-alive"),
      card("leader", leader ? `${leader.name} (term ${leader.term})` : "none", "mesh-leader"),
      card("etcd voters", String(voters), "mesh-voters"),
      card("applied", state ? `${state.applied.index} (term ${state.applied.term})` : "—", "mesh-applied"),
    ),
    members.length === 0
      ? empty("no members yet")
      : table(
          ["node", "id", "health", "phi", "roles", "zone", "rack", "capacity", "api"],
          rows,
          "mesh-table",
        ),
  );
}

function renderRaft(): void {
  const rows = topics.raft ?? [];
  const leader = leaderRow();
  const body = [...rows]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((row) => {
      const raft = row.status?.raft;
      const voter = rows.some((other) => other.status?.raft.voters.includes(row.id));
      const learner = rows.some((other) => other.status?.raft.learners.includes(row.id));
      return [
        el("strong", {}, row.name),
        row.reachable
          ? badge("reachable", "ok")
          : badge("unreachable", "bad", `raft-unreachable-${row.name}`),
        raft ? badge(raft.state, raft.state === "leader" ? "ok" : "muted", `raft-state-${row.name}`) : "—",
        raft ? String(raft.term) : "—",
        raft?.leader ? nameOf(raft.leader) : "—",
        raft ? String(raft.commit_index) : "—",
        raft ? String(raft.applied_index) : "—",
        voter ? "voter" : learner ? "learner" : "—",
        row.status ? String(row.status.chain_height) : "—",
      ];
    });
  replace(
    "raft",
    el(
      "div",
      { class: "cards" },
      card("leader", leader ? leader.name : "no leader", "raft-leader"),
      card("term", leader ? String(leader.term) : "—", "raft-term"),
    ),
    rows.length === 0
      ? empty("no nodes yet")
      : table(
          [
            "node",
            "answers",
            "state",
            "term",
            "sees leader",
            "commit",
            "applied",
            "membership",
            "chain height",
          ],
          body,
          "raft-table",
        ),
  );
}

function renderShifts(): void {
  const chain = topics.chain;
  const form = shiftForm();
  if (chain === undefined) {
    replace("shifts", form, empty("waiting for the chain"));
    return;
  }
  const shifts = [...chain.shifts]
    .reverse()
    .map((shift) => [
      String(shift.sequence),
      `${shift.term}/${shift.index}`,
      time(shift.committed_at_ms),
      el("strong", {}, shift.command),
      nameOf(shift.node),
      shift.roles.join(", ") || "—",
      shift.origin + (shift.force ? " (forced)" : ""),
      nameOf(shift.proposer),
      shift.signed ? "signed" : "unsigned",
    ]);
  const checkpoints = [...chain.checkpoints]
    .reverse()
    .map((checkpoint) => [
      String(checkpoint.size),
      String(checkpoint.after_blocks),
      checkpoint.origin,
      `${checkpoint.signatures} (leader + ${Math.max(0, checkpoint.signatures - 1)} witnesses)`,
    ]);
  replace(
    "shifts",
    form,
    el(
      "div",
      { class: "cards" },
      card(
        "verification",
        chain.verified ? badge("verified", "ok") : badge(chain.verdict, chain.height === 0 ? "muted" : "bad"),
        "chain-verdict",
      ),
      card("height", String(chain.height), "chain-height"),
      card("sealed", `${chain.sealed_size} of ${chain.height}`, "chain-sealed"),
      card("head", el("code", { title: chain.head_hash }, chain.head_hash.slice(0, 16)), "chain-head"),
    ),
    el("h3", {}, "Shift history"),
    shifts.length === 0
      ? empty("no shifts yet")
      : table(
          ["#", "term/index", "committed", "command", "node", "roles", "origin", "proposer", "signature"],
          shifts,
          "shift-table",
        ),
    el("h3", {}, "Checkpoints"),
    checkpoints.length === 0
      ? empty("no checkpoint yet")
      : table(["tree size", "after block", "origin", "signatures"], checkpoints, "checkpoint-table"),
  );
}

/** The form keeps its element across renders so a half-filled form survives live updates. */
let shiftFormElement: HTMLFormElement | null = null;

function shiftForm(): HTMLElement {
  const names = Object.values(topics.state?.nodes ?? {})
    .map((node) => node.name)
    .sort();
  if (shiftFormElement === null) {
    shiftFormElement = el(
      "form",
      { id: "shift-form", class: "shift-form", "data-testid": "shift-form" },
      el("h3", {}, "Propose a shift"),
      el(
        "label",
        {},
        "action ",
        el(
          "select",
          { name: "action", "data-testid": "shift-action" },
          ...["quarantine", "restore", "promote", "demote"].map((action) =>
            el("option", { value: action }, action),
          ),
        ),
      ),
      el("label", {}, "node ", el("select", { name: "node", "data-testid": "shift-node" })),
      el(
        "label",
        {},
        el("input", { type: "checkbox", name: "force", "data-testid": "shift-force" }),
        " force",
      ),
      el("button", { type: "submit", "data-testid": "shift-submit" }, "Propose"),
      el(
        "p",
        { class: "hint" },
        "Judged by the policy on the leader; force overrides a rule. Needs the API token.",
      ),
      el("div", { class: "result", "data-testid": "shift-result", role: "status" }),
    );
    shiftFormElement.addEventListener("submit", (event) => {
      event.preventDefault();
      void submitShift();
    });
  }
  const select = shiftFormElement.querySelector<HTMLSelectElement>('select[name="node"]');
  if (select !== null) {
    const chosen = select.value;
    const options = names.map((name) => el("option", { value: name }, name));
    if (
      select.options.length !== names.length ||
      names.some((name, i) => select.options[i]?.value !== name)
    ) {
      select.replaceChildren(...options);
      if (names.includes(chosen)) select.value = chosen;
    }
  }
  return shiftFormElement;
}

async function submitShift(): Promise<void> {
  const form = shiftFormElement;
  if (form === null) return;
  const result = form.querySelector<HTMLElement>('[data-testid="shift-result"]')!;
  const data = new FormData(form);
  const request = {
    action: String(data.get("action")),
    node: String(data.get("node")),
    force: data.get("force") === "on",
  };
  if (token === null) {
    showResult(result, "bad", "enter the API token first (top right): mutations need it");
    return;
  }
  showResult(result, "muted", `proposing ${request.action} ${request.node}…`);
  const response = await fetch("/v1/shifts", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(request),
  }).catch(() => null);
  if (response === null) {
    showResult(result, "bad", "this node did not answer");
    return;
  }
  const reply = (await response.json().catch(() => ({}))) as {
    index?: number;
    term?: number;
    error?: string;
    rule?: string;
    leader?: string | null;
  };
  if (response.status === 200) {
    showResult(result, "ok", `committed at index ${reply.index} (term ${reply.term})`);
  } else if (response.status === 409) {
    showResult(result, "bad", `${reply.error ?? "refused"}${reply.rule ? ` [rule ${reply.rule}]` : ""}`);
  } else if (response.status === 421) {
    const leader = reply.leader ? topics.raft?.find((row) => row.id === reply.leader) : undefined;
    showResult(
      result,
      "warn",
      leader ? `this node is not the leader; open ${leader.name}'s console: ` : "this node is not the leader",
      leader
        ? el(
            "a",
            { href: `${location.protocol}//${leader.api}/ui` },
            `${location.protocol}//${leader.api}/ui`,
          )
        : null,
    );
  } else if (response.status === 401) {
    showResult(result, "bad", "the token was not accepted");
  } else if (response.status === 403) {
    showResult(result, "bad", "this token may only read: enter the API token to act");
  } else {
    showResult(result, "bad", `HTTP ${response.status}: ${reply.error ?? "failed"}`);
  }
}

function showResult(
  target: HTMLElement,
  tone: "ok" | "warn" | "bad" | "muted",
  text: string,
  extra: Child = null,
): void {
  target.className = `result ${tone}`;
  target.replaceChildren(text, ...(extra === null || extra === undefined ? [] : [extra]));
}

function renderPolicy(): void {
  const decisions = topics.decisions;
  if (decisions === undefined) {
    replace("policy", empty("no leader to read decisions from"));
    return;
  }
  const acted = [...decisions.acted].reverse().map((entry) => {
    const record = entry.record;
    const tone = record.outcome === "refused" ? "bad" : record.outcome === "held" ? "warn" : "ok";
    return [
      entry.repeats > 1 ? `${time(entry.at_ms)} (×${entry.repeats} rounds)` : time(entry.at_ms),
      badge(record.outcome, tone),
      record.action,
      el("code", {}, record.rule),
      record.subject.length > 40 ? nameOf(record.subject) : record.subject,
      record.message,
    ];
  });
  const notes = decisions.latest_round.map((record) => [
    record.action,
    el("code", {}, record.rule),
    record.subject.length > 40 ? nameOf(record.subject) : record.subject,
    record.message,
  ]);
  replace(
    "policy",
    el("p", { class: "hint" }, `decision records of the leader, ${decisions.source}`),
    el("h3", {}, "Decisions that acted, held or refused"),
    acted.length === 0
      ? empty("none yet")
      : table(["at", "outcome", "action", "rule", "subject", "reason"], acted, "decision-table"),
    el("h3", {}, "Why nothing else happens (latest round)"),
    notes.length === 0
      ? empty("no notes")
      : table(["action", "rule", "subject", "reason"], notes, "notes-table"),
  );
}

function renderWorkloads(): void {
  const state = topics.state;
  const workloads = Object.entries(state?.workloads ?? {}).sort(([a], [b]) => a.localeCompare(b));
  let unplaced = 0;
  const rows = workloads.map(([key, workload]) => {
    const placed = state?.placements[key] ?? [];
    const missing = Math.max(0, workload.replicas - placed.length);
    unplaced += missing;
    const constraints = [
      workload.placement.zones.length > 0 ? `zones ${workload.placement.zones.join(",")}` : "",
      Object.keys(workload.placement.labels).length > 0
        ? `labels ${Object.entries(workload.placement.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(",")}`
        : "",
      workload.placement.tolerate_control_plane ? "control plane ok" : "workers only",
    ]
      .filter((text) => text.length > 0)
      .join("; ");
    return [
      el("strong", {}, key),
      el("code", {}, workload.image),
      missing > 0
        ? badge(`${placed.length} of ${workload.replicas} placed`, "bad", `placed-${key}`)
        : badge(`${placed.length} of ${workload.replicas} placed`, "ok", `placed-${key}`),
      placed.map(nameOf).join(", ") || "—",
      constraints,
      `${workload.resources.cpu_millis}m / ${bytes(workload.resources.memory_bytes)}`,
    ];
  });
  replace(
    "workloads",
    unplaced > 0
      ? el(
          "div",
          { class: "alert", "data-testid": "unplaced-alert" },
          `${unplaced} replica${unplaced === 1 ? "" : "s"} not placed: see the policy view for the placement records`,
        )
      : null,
    workloads.length === 0
      ? empty("no workloads (revoada workload apply FILE)")
      : table(
          ["workload", "image", "replicas", "placed on", "constraints", "resources"],
          rows,
          "workload-table",
        ),
  );
}

function renderContent(): void {
  const blobs = topics.blobs ?? [];
  const rows = blobs.map((blob) => [
    el("code", { title: blob.hash }, blob.hash.slice(0, 24)),
    bytes(blob.size),
    blob.workloads.join(", ") || "—",
  ]);
  replace(
    "content",
    el("p", { class: "hint" }, `blobs held by ${topics.serving?.name ?? "this node"} (BLAKE3 addressed)`),
    rows.length === 0
      ? empty("this node holds no blob")
      : table(["hash", "size", "used by"], rows, "blob-table"),
  );
}

const renderers: Readonly<Record<ViewName, () => void>> = {
  mesh: renderMesh,
  raft: renderRaft,
  shifts: renderShifts,
  policy: renderPolicy,
  workloads: renderWorkloads,
  content: renderContent,
};

// ---- wiring -----------------------------------------------------------------------------

/** Only the view on screen is rendered; the others render when shown. */
function render(views: readonly ViewName[]): void {
  if (views.includes(current)) renderers[current]();
  const serving = topics.serving;
  if (serving !== undefined) {
    byId("serving").textContent = `${serving.name} · ${serving.api}`;
    document.title = `revoada · ${serving.name}`;
  }
}

function show(view: ViewName): void {
  current = view;
  for (const name of viewNames) {
    byId(`view-${name}`).hidden = name !== view;
    byId(`tab-${name}`).setAttribute("aria-selected", String(name === view));
  }
  renderers[view]();
}

function indicate(text: string, tone: "ok" | "warn" | "bad"): void {
  const indicator = byId("connection");
  indicator.textContent = text;
  indicator.className = `badge ${tone}`;
}

/**
 * (Re)opens the event stream with the token in force, closing the one open. A dropped stream
 * reconnects after the server's `retry` (1 s); a refused one (401/403: reads need a token)
 * waits until a token is entered.
 */
function connect(): void {
  stream?.abort();
  const controller = new AbortController();
  stream = controller;
  void readEvents(controller.signal).then((retryMs) => {
    if (retryMs === null || stream !== controller) return;
    setTimeout(() => {
      if (stream === controller) connect();
    }, retryMs);
  });
}

/** Reads one stream until it ends; the delay before reconnecting, or null not to. */
async function readEvents(signal: AbortSignal): Promise<number | null> {
  let retryMs = 1000;
  try {
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const response = await fetch("/v1/events", { headers, signal, cache: "no-store" });
    if (response.status === 401 || response.status === 403) {
      indicate(token === null ? "token needed to read" : "token not accepted", "bad");
      return null;
    }
    if (!response.ok || response.body === null) {
      indicate("reconnecting", "warn");
      return retryMs;
    }
    indicate("live", "ok");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (let end = buffer.search(/\r?\n\r?\n/); end >= 0; end = buffer.search(/\r?\n\r?\n/)) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        retryMs = dispatchEvent(block) ?? retryMs;
      }
      if (buffer.length > eventCharsMax) throw new Error("an event larger than the console reads");
    }
  } catch {
    if (signal.aborted) return null;
  }
  indicate("reconnecting", "warn");
  return retryMs;
}

/** One server-sent event (`event:`, `data:` lines; `retry:`; `:` comments): its topic replaced. */
function dispatchEvent(block: string): number | undefined {
  let name = "";
  const data: string[] = [];
  let retryMs: number | undefined;
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
    else if (field === "retry" && /^\d+$/.test(value)) retryMs = Number(value);
  }
  const topic = topicNames.find((candidate) => candidate === name);
  if (topic !== undefined && data.length > 0) {
    (topics as Record<ConsoleTopicName, unknown>)[topic] = JSON.parse(data.join("\n"));
    render(readers[topic]);
  }
  return retryMs;
}

function wireToken(): void {
  const input = byId("token") as HTMLInputElement;
  const state = byId("token-state");
  const forget = byId("token-forget");
  const update = () => {
    state.textContent = token === null ? "no token" : "token set (kept in this page only)";
    state.className = token === null ? "badge muted" : "badge ok";
  };
  byId("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    token = input.value.trim() === "" ? null : input.value.trim();
    input.value = "";
    update();
    connect();
  });
  forget.addEventListener("click", () => {
    token = null;
    update();
    connect();
  });
  update();
}

function start(): void {
  for (const name of viewNames) byId(`tab-${name}`).addEventListener("click", () => show(name));
  wireToken();
  show("mesh");
  connect();
}

start();
