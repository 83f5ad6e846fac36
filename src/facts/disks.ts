/**
 * What the installer would call each data disk, and the R4 step 3 corrections
 * (`modify-node-attributes.py`) that make its view match reality: removable devices collected by
 * mistake are disabled, RAID SSDs that the kernel reports as rotational SATA become `ssd`, and
 * sizes follow the pool's `diskOverrides`.
 */
import type { BlockDevice, DiskClass, NodeFacts, PlatformDisk } from './types.js';

const GiB = 2 ** 30;

/**
 * The installer's rule, from kernel facts alone: NVMe by transport or name (util-linux before
 * 2.28 leaves TRAN empty for NVMe), SSD when not rotational, SATA otherwise. RAID controllers hide
 * the media, so a RAID SSD lands in `sata` here; that is what the corrections are for.
 */
export function classifyDevice(d: Pick<BlockDevice, 'name' | 'transport' | 'rotational'>): DiskClass {
  if (d.transport === 'nvme' || /^nvme\d+n\d+$/.test(d.name)) return 'nvme';
  return d.rotational ? 'sata' : 'ssd';
}

/** Whole GiB, rounded down, as the installer records `size_gib`. */
export function sizeGiB(bytes: number): number {
  return Math.floor(bytes / GiB);
}

// Mounts that make a disk part of the system: never a data disk, whatever else it holds.
const SYSTEM_MOUNTS = new Set(['/', '/boot', '/boot/efi']);

function topAncestors(devices: readonly BlockDevice[], name: string): Set<string> {
  // A device can appear under several parents (md RAID over sda1 and sdb1), once per parent.
  const parents = new Map<string, Set<string | null>>();
  for (const d of devices) {
    const s = parents.get(d.name) ?? new Set();
    s.add(d.parent);
    parents.set(d.name, s);
  }
  const tops = new Set<string>();
  const seen = new Set<string>();
  const queue = [name];
  while (queue.length > 0) {
    const n = queue.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const p of parents.get(n) ?? [null]) {
      if (p === null) tops.add(n);
      else queue.push(p);
    }
  }
  return tops;
}

/** Whole disks holding `/`, `/boot` or `/boot/efi` (two of them for a mirrored root). */
export function systemDisks(devices: readonly BlockDevice[]): Set<string> {
  const out = new Set<string>();
  for (const d of devices) {
    if (d.mountpoint && SYSTEM_MOUNTS.has(d.mountpoint))
      for (const t of topAncestors(devices, d.name)) out.add(t);
  }
  return out;
}

/** The disk holding `/`, or null when lsblk reported no mount points. */
export function rootDisk(devices: readonly BlockDevice[]): string | null {
  const root = devices.find((d) => d.mountpoint === '/');
  if (!root) return null;
  const tops = [...topAncestors(devices, root.name)].sort();
  return tops[0] ?? null;
}

// Kernel RAM-backed or network block devices that lsblk also calls `disk`: never storage to pool.
const NOT_HARDWARE = /^(?:zram|ram|nbd|rbd)\d+$/;

/**
 * Whole disks that are not system disks, once each. Empty (size 0: a card reader without media)
 * and RAM-backed devices are left out. When no mount points are known (an lsblk without
 * MOUNTPOINT) no system disk can be excluded; the probe reports that as a problem.
 */
export function dataDisks(devices: readonly BlockDevice[]): BlockDevice[] {
  const system = systemDisks(devices);
  const seen = new Set<string>();
  return devices.filter((d) => {
    if (d.type !== 'disk' || d.sizeBytes === 0 || NOT_HARDWARE.test(d.name)) return false;
    if (system.has(d.name) || seen.has(d.name)) return false;
    seen.add(d.name);
    return true;
  });
}

/** A NodePool `diskOverrides[]` entry: what the humans know better than the kernel. */
export interface DiskOverride {
  device: string;
  type?: DiskClass;
  sizeGiB?: number;
  enabled?: boolean;
}

export type DiskCorrection =
  | { device: string; field: 'enabled'; from: boolean; to: boolean; reason: string }
  | { device: string; field: 'type'; from: DiskClass; to: DiskClass; reason: string }
  | { device: string; field: 'sizeGiB'; from: number; to: number; reason: string };

// Virtual disks of hardware RAID controllers: the kernel sees the controller, not the media.
const RAID_VIRTUAL_DISK = /PERC|MegaRAID|\bMR\d{4}|LSI|Logical Volume|RAID|Smart Array|AVAGO|ServeRAID/i;

function describe(d: BlockDevice): string {
  const bits = [d.transport, d.model && JSON.stringify(d.model)].filter(Boolean);
  return bits.length ? `${d.name} (${bits.join(', ')})` : d.name;
}

/** The installer's current view of a disk: its record when given, otherwise what it would collect. */
function installerView(d: BlockDevice, recorded: PlatformDisk | undefined): Omit<PlatformDisk, 'device'> {
  return recorded ?? { type: d.diskClass, sizeGiB: sizeGiB(d.sizeBytes), enabled: true };
}

/**
 * The `modify-node-attributes.py` changes that bring the installer's view of this node's data
 * disks in line with reality. `recorded` is the node's `disks` from `describe-nodes.py`: pass it
 * once the node is collected so corrections already applied are not suggested again; without it
 * the installer's view is predicted from the facts. Overrides win over every heuristic.
 */
export function suggestDiskCorrections(
  facts: Pick<NodeFacts, 'disks'>,
  overrides: readonly DiskOverride[] = [],
  recorded?: readonly PlatformDisk[],
): DiskCorrection[] {
  const out: DiskCorrection[] = [];
  const byDevice = new Map(overrides.map((o) => [o.device.replace(/^\/dev\//, ''), o]));
  for (const d of dataDisks(facts.disks)) {
    const o = byDevice.get(d.name);
    const view = installerView(
      d,
      recorded?.find((r) => r.device === d.name),
    );

    let enabled = view.enabled;
    let enabledReason = '';
    if (o?.enabled !== undefined) {
      enabled = o.enabled;
      enabledReason = `diskOverrides sets enabled: ${o.enabled}`;
    } else if (d.removable && view.enabled) {
      enabled = false;
      enabledReason = `${describe(d)} is removable: collected by mistake, not a data disk`;
    }
    if (enabled !== view.enabled) {
      out.push({ device: d.name, field: 'enabled', from: view.enabled, to: enabled, reason: enabledReason });
    }
    // Type and size of a disk the platform will not use are noise.
    if (!enabled) continue;

    let type = view.type;
    let typeReason = '';
    if (o?.type !== undefined) {
      type = o.type;
      typeReason = RAID_VIRTUAL_DISK.test(d.model)
        ? `diskOverrides says ${o.type}; ${describe(d)} is a RAID virtual disk, whose media the kernel cannot see`
        : `diskOverrides says ${o.type}`;
    } else if (view.type === 'sata' && /SSD/i.test(d.model)) {
      type = 'ssd';
      typeReason = `${describe(d)} is an SSD by its model, though the kernel reports it rotational`;
    }
    if (type !== view.type)
      out.push({ device: d.name, field: 'type', from: view.type, to: type, reason: typeReason });

    if (o?.sizeGiB !== undefined && o.sizeGiB !== view.sizeGiB) {
      out.push({
        device: d.name,
        field: 'sizeGiB',
        from: view.sizeGiB,
        to: o.sizeGiB,
        reason: `diskOverrides sets sizeGiB: ${o.sizeGiB}`,
      });
    }
  }
  return out;
}

/** Overrides naming no data disk of the node: usually a typo, or the root disk. */
export function unmatchedOverrides(
  facts: Pick<NodeFacts, 'disks'>,
  overrides: readonly DiskOverride[],
): string[] {
  const names = new Set(dataDisks(facts.disks).map((d) => d.name));
  return overrides.map((o) => o.device.replace(/^\/dev\//, '')).filter((n) => !names.has(n));
}

/**
 * Arguments for `modify-node-attributes.py` (R4 step 3), after `-i MGMT_IP`. The caller adds the
 * program, the node's address, and quotes through the SSH command builder.
 */
export function correctionArgs(c: DiskCorrection): string[] {
  switch (c.field) {
    case 'enabled':
      return ['-d', c.device, '-s', c.to ? '1' : '0'];
    case 'type':
      return ['-d', c.device, '-t', c.to];
    case 'sizeGiB':
      return ['-d', c.device, '-S', String(c.to)];
  }
}
