import {
  type SectionKeys,
  serviceSectionKeys,
  systemdUnitKeys,
  unitSectionKeys,
} from "@revoada/face-systemd";

/**
 * The keys podman-systemd.unit(5) documents for a Quadlet `.container` file (podman 5.x):
 * `[Container]` keys map to `podman run` flags; `[Install]` honours only the keys below;
 * `[Quadlet]` has `DefaultDependencies`. `[Unit]` and `[Service]` pass through to systemd.
 * The validator rejects anything else, because Quadlet fails silently ("Unit x.service not
 * found") on a key it does not know.
 */
export const containerSectionKeys = new Set([
  "AddCapability",
  "AddDevice",
  "AddHost",
  "Annotation",
  "AutoUpdate",
  "CgroupsMode",
  "ContainerName",
  "ContainersConfModule",
  "DNS",
  "DNSOption",
  "DNSSearch",
  "DropCapability",
  "Entrypoint",
  "Environment",
  "EnvironmentFile",
  "EnvironmentHost",
  "Exec",
  "ExposeHostPort",
  "GIDMap",
  "GlobalArgs",
  "Group",
  "GroupAdd",
  "HealthCmd",
  "HealthInterval",
  "HealthLogDestination",
  "HealthMaxLogCount",
  "HealthMaxLogSize",
  "HealthOnFailure",
  "HealthRetries",
  "HealthStartPeriod",
  "HealthStartupCmd",
  "HealthStartupInterval",
  "HealthStartupRetries",
  "HealthStartupSuccess",
  "HealthStartupTimeout",
  "HealthTimeout",
  "HostName",
  "Image",
  "IP",
  "IP6",
  "Label",
  "LogDriver",
  "LogOpt",
  "Mask",
  "Memory",
  "Mount",
  "Network",
  "NetworkAlias",
  "NoNewPrivileges",
  "Notify",
  "PidsLimit",
  "Pod",
  "PodmanArgs",
  "PublishPort",
  "Pull",
  "ReadOnly",
  "ReadOnlyTmpfs",
  "ReloadCmd",
  "ReloadSignal",
  "Retry",
  "RetryDelay",
  "Rootfs",
  "RunInit",
  "SeccompProfile",
  "Secret",
  "SecurityLabelDisable",
  "SecurityLabelFileType",
  "SecurityLabelLevel",
  "SecurityLabelNested",
  "SecurityLabelType",
  "ShmSize",
  "StartWithPod",
  "StopSignal",
  "StopTimeout",
  "SubGIDMap",
  "SubUIDMap",
  "Sysctl",
  "Timezone",
  "Tmpfs",
  "UIDMap",
  "Ulimit",
  "Unmask",
  "User",
  "UserNS",
  "Volume",
  "WorkingDir",
]);

/** Quadlet applies only these `[Install]` keys itself (the generated unit cannot be enabled). */
export const quadletInstallKeys = new Set(["Alias", "WantedBy", "RequiredBy", "UpheldBy", "DefaultInstance"]);

export const quadletSectionKeys = new Set(["DefaultDependencies"]);

export const quadletUnitKeys: Readonly<Record<string, SectionKeys>> = {
  ".container": {
    Unit: unitSectionKeys,
    Container: containerSectionKeys,
    Service: serviceSectionKeys,
    Install: quadletInstallKeys,
    Quadlet: quadletSectionKeys,
  },
  ".target": systemdUnitKeys[".target"]!,
};

/** `x.container` is generated into `x.service`. */
export function quadletProvides(fileName: string): string[] {
  return fileName.endsWith(".container") ? [`${fileName.slice(0, -".container".length)}.service`] : [];
}
