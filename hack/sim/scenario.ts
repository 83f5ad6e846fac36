/**
 * Scenario files (examples/sim/*.yaml): the platform's facts in a compact form, normalized here
 * into per-host states, the firstbox's installer data, the tag DB and the BOSS DB.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import {
  BOSS_V1_PROGRAMS,
  PACKAGE_GROUPS,
  PACKAGE_PROGRAMS,
  programsOf,
  ROLE_PACKAGES,
  ROLE_SERVICES,
} from './catalog.js';
import { codenameOf, recordOf } from './render.js';
import { DEFAULT_BOSS } from './store.js';
import type { BossDb, Disk, FirstboxData, HostState, NodeRecord, TagDb, TagItem } from './types.js';

export { recordOf };

const DiskSpec = z.object({
  name: z.string(),
  size: z.union([z.string(), z.number()]),
  /** raid-ssd: an SSD behind a RAID controller, reported rotational SATA (R4 fix: `-t ssd`). */
  kind: z.enum(['ssd', 'hdd', 'raid-ssd', 'usb', 'nvme']).default('ssd'),
  model: z.string().optional(),
  dirty: z.boolean().optional(),
});

const OsSpec = z.object({
  name: z.string().default('Ubuntu'),
  version: z.string(),
  kernel: z.string().optional(),
});

const HostSpec = z.object({
  id: z.string().regex(/^[a-z][a-z0-9-]*$/),
  zone: z.string().optional(),
  roles: z.array(z.string()).default([]),
  /** A full 127.x.y.z address, or the last octet within the scenario's subnet. */
  address: z.union([z.string(), z.number()]).optional(),
  hostname: z.string().optional(),
  os: OsSpec.partial().optional(),
  kernel: z.string().optional(),
  arch: z.string().optional(),
  cpu: z.number().int().positive().optional(),
  memoryGiB: z.number().positive().optional(),
  qemu: z.string().nullable().optional(),
  disks: z.array(DiskSpec).optional(),
  packages: z.record(z.string(), z.string()).optional(),
  programs: z.array(z.string()).optional(),
  programStates: z
    .record(z.string(), z.enum(['RUNNING', 'STOPPED', 'FATAL', 'EXITED', 'BACKOFF', 'STARTING']))
    .optional(),
  supervisor: z.boolean().optional(),
  credentials: z.object({ user: z.string(), password: z.string() }).optional(),
  vm: z.object({ physicalHost: z.string() }).optional(),
});

const TagSpec = z.object({
  count: z.number().int().nonnegative().default(0),
  resources: z.number().int().nonnegative().optional(),
  sameNameAs: z.object({ zone: z.string(), count: z.number().int().positive() }).optional(),
  errors: z.number().int().nonnegative().default(0),
  /** Tags the migration silently loses (neither inserted nor warned): counts do not add up. */
  lost: z.number().int().nonnegative().default(0),
  items: z.array(z.record(z.string(), z.unknown())).optional(),
});

export const ScenarioSchema = z.object({
  name: z.string(),
  description: z.string().optional(),
  installerVersion: z.string(),
  domain: z.string().default('qingcloud.local'),
  subnet: z.number().int().min(0).max(255).default(1),
  port: z.number().int().default(22),
  zones: z
    .array(
      z.object({
        id: z.string(),
        region: z.string().optional(),
        global: z.boolean().default(false),
        mode: z.enum(['standard', 'fusion', 'devops']).default('standard'),
        vip: z.string().optional(),
        proxyVip: z.string().optional(),
      }),
    )
    .min(1),
  defaults: HostSpec.omit({ id: true }).partial().default({}),
  firstbox: HostSpec.partial().default({}),
  nodes: z.array(HostSpec).default([]),
  spare: z.array(HostSpec).default([]),
  repo: z.record(z.string(), z.union([z.string(), z.array(z.string())])).default({}),
  tags: z.record(z.string(), TagSpec).default({}),
  boss: z
    .object({
      v1: z.boolean().default(false),
      v2: z.boolean().default(false),
      cronus: z.boolean().default(false),
      defaultPassword: z.boolean().default(true),
    })
    .default({ v1: false, v2: false, cronus: false, defaultPassword: true }),
});
export type Scenario = z.infer<typeof ScenarioSchema>;
type HostSpecT = z.infer<typeof HostSpec>;

export const DEFAULT_CREDENTIALS = { user: 'yop', password: 'pitrix-default' };

export interface Normalized {
  scenario: Scenario;
  hosts: HostState[];
  tagDb: TagDb;
  boss: BossDb;
}

export function loadScenario(src: string | object): Scenario {
  const raw = typeof src === 'string' ? parse(readFileSync(src, 'utf8')) : src;
  return ScenarioSchema.parse(raw);
}

function bytes(size: string | number): number {
  if (typeof size === 'number') return size;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(size.trim());
  if (!m) throw new Error(`bad disk size ${size}`);
  const pow = { '': 0, K: 1, M: 2, G: 3, T: 4 }[(m[2] ?? '').toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Math.round(Number(m[1]) * 1024 ** pow);
}

const MODELS = {
  ssd: 'INTEL SSDSC2KB960G8',
  hdd: 'ST4000NM0035-1V4107',
  'raid-ssd': 'PERC H730P Mini',
  usb: 'Cruzer Blade',
  nvme: 'INTEL SSDPE2KX020T8',
};

function disks(specs: z.infer<typeof DiskSpec>[] | undefined, isVm: boolean): Disk[] {
  const list = specs ?? [
    { name: isVm ? 'vda' : 'sda', size: isVm ? '100G' : '480G', kind: 'ssd' as const },
    ...(isVm ? [] : [{ name: 'sdb', size: '960G', kind: 'ssd' as const }]),
  ];
  const out: Disk[] = [];
  list.forEach((d, i) => {
    const virt = d.name.startsWith('vd');
    out.push({
      name: d.name,
      type: 'disk',
      sizeBytes: bytes(d.size),
      rotational: d.kind === 'hdd' || d.kind === 'raid-ssd' || virt,
      removable: d.kind === 'usb',
      transport: virt ? null : d.kind === 'usb' ? 'usb' : d.kind === 'nvme' ? 'nvme' : 'sata',
      model: d.model ?? (virt ? '' : MODELS[d.kind]),
      ...(d.dirty ? { dirty: true } : {}),
    });
    if (i === 0) {
      // The system disk carries the OS partitions; data disks come bare.
      const size = bytes(d.size);
      out.push({ ...partOf(`${d.name}1`), sizeBytes: 512 * 2 ** 20 });
      out.push({ ...partOf(`${d.name}2`), sizeBytes: size - 512 * 2 ** 20 });
    }
  });
  return out;
}

function partOf(name: string): Disk {
  return {
    name,
    type: 'part',
    sizeBytes: 0,
    rotational: false,
    removable: false,
    transport: null,
    model: '',
  };
}

export function addressOf(spec: string | number | undefined, subnet: number, fallback: number): string {
  if (typeof spec === 'string' && spec.includes('.')) {
    const parts = spec.split('.');
    // Scenario files pin 127.77.<subnet>.N; a caller's subnet override relocates them.
    if (parts[0] === '127' && parts[1] === '77') return `127.77.${subnet}.${parts[3]}`;
    return spec;
  }
  return `127.77.${subnet}.${spec ?? fallback}`;
}

const QEMU_DEFAULT =
  'QEMU emulator version 2.5.0 (Debian 1:2.5+dfsg-5ubuntu10.51), Copyright (c) 2003-2008 Fabrice Bellard';

function mac(seed: number): string {
  const b = [0x52, 0x54, 0x7e, (seed >> 16) & 0xff, (seed >> 8) & 0xff, seed & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function normalize(sc: Scenario, opts: { subnet?: number; port?: number } = {}): Normalized {
  const subnet = opts.subnet ?? sc.subnet;
  const port = opts.port ?? sc.port;
  const version = `${sc.installerVersion}-1`;
  const globalZone = sc.zones.find((z) => z.global) ?? sc.zones[0]!;
  const now = Date.now();
  let seq = 0;

  const build = (spec: HostSpecT, kind: 'firstbox' | 'node', spare: boolean, n: number): HostState => {
    const d = sc.defaults;
    const roles = spec.roles.length ? spec.roles : kind === 'firstbox' ? ['firstbox'] : [];
    const isVm = Boolean(spec.vm);
    const osv = spec.os?.version ?? d.os?.version ?? '16.04.5';
    const kernel = spec.kernel ?? spec.os?.kernel ?? d.kernel ?? d.os?.kernel ?? '4.4.0-142-generic';
    const address = addressOf(spec.address, subnet, n);
    const isPhysical = !isVm && kind === 'node';
    const hasQemu = roles.includes('hyper') || roles.includes('vg');
    const packages: Record<string, string> = {};
    if (!spare && kind === 'node')
      for (const r of roles) for (const p of ROLE_PACKAGES[r] ?? []) packages[p] = version;
    Object.assign(packages, spec.packages ?? {});
    const programNames = spec.programs ?? Object.keys(packages).flatMap(programsOf);
    if (sc.boss.v1 && !spare) for (const r of roles) programNames.push(...(BOSS_V1_PROGRAMS[r] ?? []));
    const programs: HostState['supervisor']['programs'] = {};
    for (const p of programNames) {
      programs[p] = {
        state: spec.programStates?.[p] ?? 'RUNNING',
        pid: 1000 + ++seq * 37,
        startedAt: now - 86_400_000 * 3 - seq * 61_000,
      };
    }
    const services: Record<string, 'running' | 'stopped'> = {};
    if (!spare) for (const r of roles) for (const svc of ROLE_SERVICES[r] ?? []) services[svc] = 'running';
    const m = mac(n * 7919 + subnet);
    return {
      id: spec.id ?? 'firstbox',
      kind,
      hostname: spec.hostname ?? `${spec.zone ?? globalZone.id}-${spec.id ?? 'firstbox'}`,
      address,
      port,
      zone: spec.zone ?? globalZone.id,
      roles,
      spare,
      power: 'on',
      facts: {
        arch: spec.arch ?? d.arch ?? 'x86_64',
        kernel,
        cpu: spec.cpu ?? d.cpu ?? (isVm ? 8 : 32),
        memoryKb: Math.round((spec.memoryGiB ?? d.memoryGiB ?? (isVm ? 16 : 128)) * 1024 * 1024) - 2_000_000,
        os: { name: spec.os?.name ?? d.os?.name ?? 'Ubuntu', version: osv, codename: codenameOf(osv) },
        qemu: spec.qemu !== undefined ? spec.qemu : hasQemu ? (d.qemu ?? QEMU_DEFAULT) : null,
        disks: disks(spec.disks ?? d.disks, isVm),
        nics: isPhysical
          ? [
              { name: 'eth0', mac: m, addresses: [] },
              { name: 'br0', mac: m, addresses: [`${address}/24`] },
            ]
          : [{ name: 'eth0', mac: m, addresses: [`${address}/24`] }],
      },
      packages,
      supervisor: { installed: spec.supervisor ?? (kind === 'node' && !spare), programs },
      services,
      credentials: spec.credentials
        ? { ...spec.credentials, isDefault: false }
        : { ...DEFAULT_CREDENTIALS, isDefault: true },
      ...(spec.vm ? { vm: { physicalHost: spec.vm.physicalHost, mac: m } } : {}),
      ...(sc.boss.v1 && !spare ? { bossV1: true } : {}),
    };
  };

  const hosts: HostState[] = [build({ roles: [], ...sc.firstbox, id: 'firstbox' }, 'firstbox', false, 10)];
  for (const [i, n] of sc.nodes.entries()) hosts.push(build(n, 'node', false, 21 + i));
  for (const [i, n] of sc.spare.entries()) hosts.push(build(n, 'node', true, 61 + i));

  const nodes: NodeRecord[] = hosts
    .filter((h) => h.kind === 'node' && !h.spare)
    .map((h) => recordOf(h, 'deployed'));
  const repo: Record<string, string[]> = {};
  // The installer ships every package it knows, except the tag packages (R1 places those).
  for (const p of Object.keys(PACKAGE_PROGRAMS)) if (!PACKAGE_GROUPS.tag!.includes(p)) repo[p] = [version];
  for (const h of hosts)
    for (const [p, v] of Object.entries(h.packages)) repo[p] = [...new Set([...(repo[p] ?? []), v])];
  for (const [p, v] of Object.entries(sc.repo))
    repo[p] = [...new Set([...(repo[p] ?? []), ...(Array.isArray(v) ? v : [v])])];
  const fb: FirstboxData = {
    installerVersion: sc.installerVersion,
    domain: sc.domain,
    zones: sc.zones.map((z) => ({
      zone_id: z.id,
      region_id: z.region ?? z.id,
      is_global_zone: z.global ? 1 : 0,
      mode: z.mode,
      status: 'active',
    })),
    nodes,
    jobs: {},
    repo,
    builds: [],
    vip: Object.fromEntries(
      sc.zones.map((z) => [
        z.id,
        z.vip ?? nodes.find((n) => n.zone_id === z.id && n.roles.includes('webservice'))?.node_id ?? '',
      ]),
    ),
    proxyVip: Object.fromEntries(sc.zones.map((z) => [z.id, z.proxyVip ?? addressOf(5, subnet, 5)])),
    configured: {},
    sshEstablished: [],
    macSeq: 1,
  };
  hosts[0]!.firstbox = fb;
  return {
    scenario: sc,
    hosts,
    tagDb: { zones: tagsOf(sc), migrated: {} },
    boss: {
      ...DEFAULT_BOSS,
      v2Deployed: sc.boss.v2,
      cronusDeployed: sc.boss.cronus || sc.boss.v2,
      defaultPassword: sc.boss.defaultPassword,
    },
  };
}

const TAG_NAMES = [
  'web',
  'db',
  'prod',
  'staging',
  'cache',
  'backup',
  'gpu',
  'lb',
  'k8s',
  'etl',
  'ops',
  'test',
];

function tagsOf(sc: Scenario): Record<string, TagItem[]> {
  const out: Record<string, TagItem[]> = {};
  const zones = Object.keys(sc.tags);
  // Zones others copy names from are generated first, so the copies exist to point at.
  zones.sort((a, b) => (sc.tags[a]?.sameNameAs ? 1 : 0) - (sc.tags[b]?.sameNameAs ? 1 : 0));
  for (const zone of zones) {
    const spec = sc.tags[zone]!;
    if (spec.items) {
      out[zone] = spec.items.map((it, i) => ({
        tag_id: `tag-${zone}-${i}`,
        tag_name: `t${i}`,
        owner: 'usr-admin',
        resource_count: 1,
        ...it,
        zone_id: zone,
      })) as TagItem[];
      continue;
    }
    const items: TagItem[] = [];
    const resources = spec.resources ?? spec.count;
    for (let i = 0; i < spec.count; i++) {
      const name = `${TAG_NAMES[i % TAG_NAMES.length]}-${zone}-${Math.floor(i / TAG_NAMES.length)}`;
      items.push({
        tag_id: `tag-${zone}${String(i).padStart(4, '0')}`,
        tag_name: name,
        owner: `usr-${(i % 5) + 1}${zone.replace(/[^a-z0-9]/g, '').slice(0, 6)}`,
        zone_id: zone,
        // Spread the resource count so the resource_tag total matches the spec.
        resource_count: Math.floor(resources / spec.count) + (i < resources % spec.count ? 1 : 0),
      });
    }
    const src = spec.sameNameAs ? (out[spec.sameNameAs.zone] ?? []) : [];
    for (let i = 0; i < (spec.sameNameAs?.count ?? 0) && i < items.length && i < src.length; i++) {
      items[i]!.owner = src[i]!.owner;
      items[i]!.tag_name = src[i]!.tag_name;
    }
    for (let i = 0; i < spec.errors; i++) {
      const it = items[items.length - 1 - i];
      if (it) it.broken = true;
    }
    for (let i = 0; i < spec.lost; i++) {
      const it = items[items.length - 1 - spec.errors - i];
      if (it) it.lost = true;
    }
    out[zone] = items;
  }
  return out;
}
