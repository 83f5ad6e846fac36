/**
 * State shapes shared by the platform (root namespace) and the commands that run inside each
 * simulated host. Plain interfaces only: the command bundle and the tests read the same JSON.
 */

export type Power = 'on' | 'off';
export type ProgramState = 'RUNNING' | 'STOPPED' | 'STARTING' | 'FATAL' | 'EXITED' | 'BACKOFF';

export interface Disk {
  name: string;
  type: 'disk' | 'part' | 'rom';
  sizeBytes: number;
  rotational: boolean;
  removable: boolean;
  transport: 'sata' | 'sas' | 'nvme' | 'usb' | null;
  model: string;
  /** Leftover partitions/data: collect-nodes.py fails on it until erase_data_disks.sh runs. */
  dirty?: boolean;
}

export interface Nic {
  name: string;
  mac: string;
  addresses: string[];
}

export interface Facts {
  arch: string;
  kernel: string;
  cpu: number;
  memoryKb: number;
  os: { name: string; version: string; codename: string };
  /** Full `kvm --version` first line, or null when QEMU is not installed. */
  qemu: string | null;
  disks: Disk[];
  nics: Nic[];
}

export interface Program {
  state: ProgramState;
  pid: number;
  startedAt: number;
}

export interface NodeRecord {
  node_id: string;
  hostname: string;
  mgmt_ip: string;
  zone_id: string;
  roles: string[];
  status: 'new' | 'collected' | 'available' | 'deployed';
  cpu_cores: number;
  arch: string;
  memory_mb: number;
  os_name: string;
  os_version: string;
  disks: { device: string; type: 'ssd' | 'sata' | 'nvme'; size_gib: number; enabled: 0 | 1 }[];
  /** Simulated host id behind this record (not printed). */
  host: string;
}

export interface ZoneRecord {
  zone_id: string;
  region_id: string;
  is_global_zone: 0 | 1;
  mode: 'standard' | 'fusion' | 'devops';
  status: 'active';
}

export interface Job {
  id: string;
  kind: string;
  zone?: string;
  status: 'running' | 'successful' | 'failed';
  progress: number;
  step: string;
  startedAt: number;
  finishedAt?: number;
  pid?: number;
  /** The installer's jobs keep a log their get-…-log.py prints; update.sh and the builds do not. */
  logFile?: string;
}

export interface FirstboxData {
  installerVersion: string;
  domain: string;
  zones: ZoneRecord[];
  nodes: NodeRecord[];
  jobs: Record<string, Job>;
  /** Package index built by scan_all.sh / build_pkgs.py: name -> known versions. */
  repo: Record<string, string[]>;
  builds: { pkg: string; version: string; at: number }[];
  /** Zone id -> node id of the webservice node holding the floating IP. */
  vip: Record<string, string>;
  proxyVip: Record<string, string>;
  /** Zone id -> mgmt IPs that config-qingcloud.py configured (with their roles). */
  configured: Record<string, { ip: string; role: string }[]>;
  /** Mgmt IPs whose key access establish_ssh.sh set up. */
  sshEstablished: string[];
  macSeq: number;
}

export interface HostState {
  id: string;
  kind: 'firstbox' | 'node';
  hostname: string;
  address: string;
  port: number;
  zone: string;
  roles: string[];
  /** Exists and answers SSH but is not in the installer's node list (yet). */
  spare: boolean;
  power: Power;
  facts: Facts;
  packages: Record<string, string>;
  supervisor: { installed: boolean; programs: Record<string, Program> };
  /** init services (`service X reload|restart`): nginx, haproxy, keepalived. */
  services: Record<string, 'running' | 'stopped'>;
  credentials: { user: string; password: string; isDefault: boolean };
  vm?: { physicalHost: string; mac: string };
  bossV1?: boolean;
  firstbox?: FirstboxData;
}

export type FaultKind = 'fail' | 'hang' | 'slow' | 'drop' | 'output' | 'hostKey' | 'wrongFacts';

export interface Fault {
  kind: FaultKind;
  /** Substring of the command line, or `/regex/flags`; absent = every command. */
  match?: string;
  /** How many matching commands it applies to; absent = until cleared. */
  times?: number;
  /** fail/output: run the real command first, then report the fault (`after`), or not at all; drop: `before` drops the link before the command starts. */
  phase?: 'before' | 'after';
  exitCode?: number;
  message?: string;
  stdout?: string;
  delayMs?: number;
  afterMs?: number;
  facts?: Partial<Omit<Facts, 'os'>> & { os?: Partial<Facts['os']> };
  /** Only commands arriving this way: over SSH, or from firstbox's exec_nodes.sh. */
  via?: 'ssh' | 'exec_nodes';
}

export interface CommandLogEntry {
  time: string;
  host: string;
  command: string;
  exitCode: number | null;
  signal?: string | null;
  durationMs: number;
  via: 'ssh' | 'exec_nodes';
  fault?: FaultKind;
  /** When the SSH session went away while the command still ran (ms after its start). */
  sessionEndedAfterMs?: number;
}

/**
 * One run of an installer tool that has no job record of its own (launch_vms.sh, install_nodes.sh,
 * update.sh): its start and, unless it was killed, its end, so a test sees two copies at once.
 */
export interface ToolRun {
  id: string;
  tool: string;
  args: string[];
  pid: number;
  startedAt: number;
  finishedAt?: number;
  exitCode?: number;
}

export interface TimelineEvent {
  time: number;
  host: string;
  event: 'up' | 'down' | 'poweroff' | 'poweron' | 'rebuilt' | 'vip';
  detail?: string;
}

export interface TagItem {
  tag_id: string;
  tag_name: string;
  owner: string;
  zone_id: string;
  resource_count: number;
  /** The migration reports this tag as an error (X). */
  broken?: boolean;
  /** The migration silently loses it (neither inserted nor warned). */
  lost?: boolean;
}

export interface TagDb {
  zones: Record<string, TagItem[]>;
  /** Global tag server rows: tag_id -> owner/name it landed under. */
  migrated: Record<string, { owner: string; tag_name: string; zone_id: string; merged: boolean }>;
}

export interface BossDb {
  v2Deployed: boolean;
  cronusDeployed: boolean;
  websupervisorDeployed: boolean;
  defaultPassword: boolean;
  migrations: number;
  initData: number;
  cacheRebuilds: number;
  healthy: boolean;
}

/** Shared, platform-wide settings visible to every host under /.sim/services. */
export interface SimConfig {
  timeScale: number;
  /** Strict mode (hack/sim/strict.ts): what the original runbooks do not name (and, for `'assumed'`, the documented assumptions do not allow) is refused. */
  strict?: boolean | 'assumed';
  domain: string;
  nodePath: string;
  bundle: string;
  hosts: {
    id: string;
    address: string;
    port: number;
    kind: 'firstbox' | 'node';
    roles: string[];
    spare: boolean;
  }[];
}
