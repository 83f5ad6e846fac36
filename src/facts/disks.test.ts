import { describe, expect, it } from 'vitest';
import { AT, fixture } from '../../test/fixtures/facts/load.js';
import {
  classifyDevice,
  correctionArgs,
  dataDisks,
  rootDisk,
  sizeGiB,
  suggestDiskCorrections,
  systemDisks,
  unmatchedOverrides,
} from './disks.js';
import { parseLsblk } from './lsblk.js';
import { parseProbeOutput } from './probe.js';

const hyper1404 = parseProbeOutput(fixture('ubuntu-14.04-hyper.probe.txt'), { collectedAt: AT });

describe('classifyDevice', () => {
  it('follows the installer: nvme by transport or name, ssd when not rotational, else sata', () => {
    expect(classifyDevice({ name: 'nvme1n1', transport: null, rotational: false })).toBe('nvme');
    expect(classifyDevice({ name: 'sdb', transport: 'nvme', rotational: false })).toBe('nvme');
    expect(classifyDevice({ name: 'sdb', transport: 'sata', rotational: false })).toBe('ssd');
    expect(classifyDevice({ name: 'sdb', transport: null, rotational: true })).toBe('sata');
    // A partition of an NVMe disk is not itself named like a namespace.
    expect(classifyDevice({ name: 'nvme0n1p1', transport: null, rotational: false })).toBe('ssd');
  });

  it('sizes in whole GiB, rounded down', () => {
    expect(sizeGiB(1919850381312)).toBe(1788);
    expect(sizeGiB(2 ** 30 - 1)).toBe(0);
  });
});

describe('system and data disks', () => {
  it('treats both members of an md RAID1 root as system disks', () => {
    const { devices } = parseLsblk(fixture('lsblk-pairs-md-root.txt'));
    expect([...systemDisks(devices)].sort()).toEqual(['sda', 'sdb']);
    expect(rootDisk(devices)).toBe('sda');
    expect(dataDisks(devices).map((d) => d.name)).toEqual(['sdc', 'sdd']);
  });

  it('excludes nothing but RAM devices when no mount point is known, and the probe says so', () => {
    const text = fixture('ubuntu-14.04-hyper.probe.txt').replace(/ MOUNTPOINT="[^"]*"/g, '');
    const f = parseProbeOutput(text);
    expect(dataDisks(f.disks).map((d) => d.name)).toEqual(['sda', 'sdb', 'sdc']);
    expect(f.problems).toEqual([expect.stringMatching(/^lsblk: no device is mounted at \//)]);
  });
});

describe('suggestDiskCorrections (R4 step 3)', () => {
  it('disables the removable USB stick, and leaves a PERC disk alone without an override', () => {
    expect(suggestDiskCorrections(hyper1404)).toEqual([
      {
        device: 'sdc',
        field: 'enabled',
        from: true,
        to: false,
        reason: 'sdc ("Cruzer Blade") is removable: collected by mistake, not a data disk',
      },
    ]);
  });

  it('turns a PERC RAID SSD reported as rotational SATA into ssd when diskOverrides says so', () => {
    const corrections = suggestDiskCorrections(hyper1404, [
      { device: '/dev/sdb', type: 'ssd', sizeGiB: 1788 },
    ]);
    expect(corrections).toContainEqual({
      device: 'sdb',
      field: 'type',
      from: 'sata',
      to: 'ssd',
      reason:
        'diskOverrides says ssd; sdb ("PERC H730P Mini") is a RAID virtual disk, whose media the kernel cannot see',
    });
    // The size already matches: no correction for it.
    expect(corrections.filter((c) => c.field === 'sizeGiB')).toEqual([]);
    expect(corrections.map(correctionArgs)).toEqual([
      ['-d', 'sdb', '-t', 'ssd'],
      ['-d', 'sdc', '-s', '0'],
    ]);
  });

  it('recognises an SSD by its model behind a RAID controller that hides it', () => {
    const { devices } = parseLsblk(fixture('lsblk-pairs-md-root.txt'));
    expect(suggestDiskCorrections({ disks: devices })).toEqual([
      expect.objectContaining({ device: 'sdc', field: 'type', from: 'sata', to: 'ssd' }),
    ]);
  });

  it('compares with what the installer recorded, so applied corrections are not repeated', () => {
    const recorded = [
      { device: 'sdb', type: 'ssd' as const, sizeGiB: 1788, enabled: true },
      { device: 'sdc', type: 'sata' as const, sizeGiB: 14, enabled: false },
    ];
    expect(suggestDiskCorrections(hyper1404, [{ device: 'sdb', type: 'ssd' }], recorded)).toEqual([]);
    // The installer recorded 1800 GiB; the override wins.
    const wrongSize = [{ ...recorded[0]!, sizeGiB: 1800 }, recorded[1]!];
    expect(suggestDiskCorrections(hyper1404, [{ device: 'sdb', sizeGiB: 1788 }], wrongSize)).toEqual([
      { device: 'sdb', field: 'sizeGiB', from: 1800, to: 1788, reason: 'diskOverrides sets sizeGiB: 1788' },
    ]);
  });

  it('lets an override keep a removable disk or disable a fixed one, and skips type fixes on disabled disks', () => {
    const c = suggestDiskCorrections(hyper1404, [
      { device: 'sdc', enabled: true },
      { device: 'sdb', enabled: false, type: 'ssd' },
    ]);
    expect(c).toEqual([
      { device: 'sdb', field: 'enabled', from: true, to: false, reason: 'diskOverrides sets enabled: false' },
    ]);
    expect(correctionArgs({ device: 'sdb', field: 'sizeGiB', from: 1, to: 2, reason: '' })).toEqual([
      '-d',
      'sdb',
      '-S',
      '2',
    ]);
  });

  it('flags overrides that name no data disk', () => {
    expect(unmatchedOverrides(hyper1404, [{ device: 'sdb' }, { device: 'sda' }, { device: 'sdz' }])).toEqual([
      'sda',
      'sdz',
    ]);
  });
});
