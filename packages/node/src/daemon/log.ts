/**
 * Structured JSON logs, one object per line on stderr: `{"time","level","component","msg",...}`.
 * Fields whose names look secret are redacted, so a cluster key or token can never be
 * logged by accident.
 */
export const logLevels = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof logLevels)[number];

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(component: string): Logger;
}

const secretField = /(key|token|secret|password|seed)$/i;

export function redact(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (secretField.test(name) && value !== undefined) out[name] = "[redacted]";
    else if (value instanceof Error) out[name] = { name: value.name, message: value.message };
    else out[name] = value;
  }
  return out;
}

export function createLogger(
  options: { level: LogLevel; component?: string; write?: (line: string) => void; now?: () => number } = {
    level: "info",
  },
): Logger {
  const threshold = logLevels.indexOf(options.level);
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? Date.now;
  const component = options.component ?? "revoada";
  const emit = (level: LogLevel, msg: string, fields: LogFields = {}) => {
    if (logLevels.indexOf(level) < threshold) return;
    const record = { time: new Date(now()).toISOString(), level, component, msg, ...redact(fields) };
    write(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (name) => createLogger({ ...options, component: `${component}.${name}` }),
  };
}

/** A logger that drops everything: for library use and tests that do not inspect logs. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
