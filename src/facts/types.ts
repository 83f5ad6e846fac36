/**
 * Typed facts about the platform: what a node or the firstbox looked like when we last asked.
 * Controllers decide from these (never from raw command output), and NodePool status shows them,
 * so every field is plain JSON: strings, numbers, booleans, arrays, records, null.
 */

/** lsblk TYPE, normalised: `raid0`..`raid10` and `md` collapse to `raid`, unknown kinds to `other`. */
export type BlockDeviceType = 'disk' | 'part' | 'rom' | 'raid' | 'lvm' | 'crypt' | 'loop' | 'mpath' | 'other';

/** lsblk TRAN, normalised (`ata`/`sata` → `sata`); null when lsblk reports none or cannot. */
export type Transport = 'sata' | 'nvme' | 'usb' | 'sas' | 'other' | null;

/** The installer's own disk kinds (`describe-nodes.py` `type`, `modify-node-attributes.py -t`). */
export type DiskClass = 'ssd' | 'sata' | 'nvme';

export interface BlockDevice {
  /** Kernel name without `/dev/`: `sda`, `sda1`, `nvme0n1`, `md0`. */
  name: string;
  type: BlockDeviceType;
  sizeBytes: number;
  rotational: boolean;
  removable: boolean;
  transport: Transport;
  /** Trimmed model string; empty when the device has none (partitions, md). */
  model: string;
  /** What the installer would call this device from the same kernel facts (see disks.ts). */
  diskClass: DiskClass;
  /** The device this one sits on (`sda` for `sda1`); null for top-level devices. */
  parent: string | null;
  /** Where it is mounted (`/`, `/boot`, `[SWAP]`); null when not mounted or not reported. */
  mountpoint: string | null;
}

export interface NetworkInterface {
  /** Interface name as `ip` prints it, without the `@lower` suffix: `eth0`, `br0`, `bond0.100`. */
  name: string;
  /** Addresses in CIDR notation, IPv4 and IPv6, in the order `ip` listed them. */
  addresses: string[];
}

export interface OsFacts {
  /** Distribution name: `Ubuntu`. */
  name: string;
  /** The most precise version known: `14.04.5` rather than `14.04`. */
  version: string;
  /** Human text as `lsb_release -ds` prints it: `Ubuntu 14.04.5 LTS`. */
  description: string;
  /** `trusty`, `xenial`, `bionic`; absent when neither source names it. */
  codename?: string;
}

export type ServiceState =
  | 'RUNNING'
  | 'STARTING'
  | 'BACKOFF'
  | 'STOPPING'
  | 'STOPPED'
  | 'EXITED'
  | 'FATAL'
  | 'UNKNOWN';

export interface ServiceStatus {
  /** Program name as supervisorctl prints it, `group:name` for grouped programs. */
  name: string;
  state: ServiceState;
  /** The rest of the line: `pid 1234, uptime 3 days, 4:05:06`, `Exited too quickly ...`. */
  detail: string;
}

/**
 * Whether supervisord could be asked at all. `absent`: no supervisorctl on the node (some roles
 * never run one); `unreachable`: supervisorctl exists but supervisord did not answer, which means
 * none of its programs can be assumed running.
 */
export type SupervisorAvailability = 'ok' | 'absent' | 'unreachable';

export interface NodeFacts {
  cpuCores: number;
  /** `uname -m`: `x86_64`, `aarch64`. */
  arch: string;
  memoryMiB: number;
  os: OsFacts;
  /** `uname -r`. */
  kernel: string;
  /** Every block device lsblk listed, parents before children (tree order). */
  disks: BlockDevice[];
  /** Interfaces that carry at least one address (ip -o addr lists no others). */
  nics: NetworkInterface[];
  /** `2.5.0`; null when the node has no QEMU (only hypervisors do). */
  qemuVersion: string | null;
  /** The distribution build of QEMU, `1:2.5+dfsg-5ubuntu10.51`, when the banner names one. */
  qemuBuild: string | null;
  /** Installed `pitrix-*` packages only, name → Debian version. */
  packages: Record<string, string>;
  /** null when there is no supervisor to ask; see `supervisor` for which case. */
  services: ServiceStatus[] | null;
  supervisor: SupervisorAvailability;
  /** ISO 8601 time the facts were collected. */
  collectedAt: string;
  /** Non-fatal trouble: a section missing or unparseable. Empty when all went well. */
  problems: string[];
}

export interface PlatformDisk {
  device: string;
  type: DiskClass;
  sizeGiB: number;
  enabled: boolean;
}

export type PlatformNodeStatus = 'new' | 'collected' | 'available' | 'deployed';

/** One node as the installer knows it (`describe-nodes.py -f json`), in our naming. */
export interface PlatformNode {
  nodeId: string;
  hostname: string;
  mgmtIp: string;
  zoneId: string;
  roles: string[];
  status: PlatformNodeStatus;
  /** Hardware facts are null until `collect-nodes.py` has run for the node. */
  cpuCores: number | null;
  arch: string | null;
  memoryMiB: number | null;
  osName: string | null;
  osVersion: string | null;
  disks: PlatformDisk[];
  /** True on the webservice node that currently holds the zone's floating IP. */
  vip: boolean;
}

export type ZoneMode = 'standard' | 'fusion' | 'devops';

export interface PlatformZone {
  zoneId: string;
  regionId: string | null;
  isGlobalZone: boolean;
  mode: ZoneMode;
  status: string;
}

export interface FirstboxFacts {
  /** `/pitrix/VERSION`, normalised to its dotted number: `4.6.2`. */
  installerVersion: string;
  nodes: PlatformNode[];
  /** Present when `describe-zones.py` answered; older installers may lack it. */
  zones?: PlatformZone[];
  collectedAt: string;
  problems: string[];
}
