import { describe, expect, it } from 'vitest';
import { fixture } from '../../test/fixtures/facts/load.js';
import { FactsParseError } from './errors.js';
import { parseInstallerVersion } from './installer.js';
import { parseIpAddr } from './ip.js';
import { parseLsblk } from './lsblk.js';
import { parseMeminfo } from './meminfo.js';
import { parseOs } from './os.js';
import { parsePackages } from './packages.js';
import { parseQemuVersion } from './qemu.js';
import { parseSupervisorStatus } from './supervisor.js';

describe('parseLsblk', () => {
  it('reads util-linux ≥ 2.33 JSON with booleans and numbers', () => {
    const { devices, problems } = parseLsblk(fixture('lsblk-util-linux-2.34-booleans.json'));
    expect(problems).toEqual([]);
    expect(devices.map((d) => d.name)).toEqual(['sda', 'sda1', 'sda2', 'sdb', 'sdc', 'sdc1', 'nvme0n1']);
    expect(devices.find((d) => d.name === 'sdb')).toEqual({
      name: 'sdb',
      type: 'disk',
      sizeBytes: 3838499487744,
      rotational: true,
      removable: false,
      transport: null,
      model: 'PERC H730P Mini',
      diskClass: 'sata',
      parent: null,
      mountpoint: null,
    });
    expect(devices.find((d) => d.name === 'sdc')).toMatchObject({ removable: true, transport: 'usb' });
    expect(devices.find((d) => d.name === 'sdc1')).toMatchObject({
      parent: 'sdc',
      mountpoint: '/media/usb0',
    });
  });

  it('accepts numbers 0/1 and mountpoints arrays (util-linux ≥ 2.37)', () => {
    const { devices } = parseLsblk(
      JSON.stringify({
        blockdevices: [
          {
            name: 'sdb',
            type: 'disk',
            size: '1000',
            rota: 0,
            rm: 1,
            tran: 'ata',
            model: null,
            mountpoints: [null],
          },
        ],
      }),
    );
    expect(devices[0]).toMatchObject({
      rotational: false,
      removable: true,
      transport: 'sata',
      mountpoint: null,
    });
  });

  it('reads pairs with TRAN, hex escapes and md RAID listed under both members', () => {
    const { devices } = parseLsblk(fixture('lsblk-pairs-md-root.txt'));
    expect(devices.filter((d) => d.name === 'md0').map((d) => [d.type, d.parent])).toEqual([
      ['raid', 'sda1'],
      ['raid', 'sdb1'],
    ]);
    expect(devices.find((d) => d.name === 'sdc')).toMatchObject({ model: 'MR9361-8i SSD', transport: 'sas' });
  });

  it('reports odd fields and devices instead of failing the whole list', () => {
    const { devices, problems } = parseLsblk(
      '{"blockdevices":[{"name":"sda","type":"disk","size":"huge","rota":"?","rm":"0"},{"name":"; rm -rf /"},7]}',
    );
    expect(devices.map((d) => d.name)).toEqual(['sda']);
    expect(problems).toEqual([
      'lsblk: sda: unreadable size, rota',
      'lsblk: skipped a device with an unusable name "; rm -rf /"',
      'lsblk: skipped a non-object entry in blockdevices',
    ]);
  });

  it('throws FactsParseError on empty, non-lsblk or invalid JSON text', () => {
    expect(() => parseLsblk('')).toThrow(/^cannot parse lsblk: lsblk printed nothing$/);
    expect(() => parseLsblk('lsblk: unknown column: TRAN')).toThrow(FactsParseError);
    expect(() => parseLsblk('{"blockdevices": 3}')).toThrow(/no "blockdevices" array/);
    expect(() => parseLsblk('{"blockdevices": [')).toThrow(/invalid JSON/);
  });
});

describe('parseOs', () => {
  it('prefers the more precise point release and reports a disagreement', () => {
    expect(parseOs('"Ubuntu 14.04.5 LTS"', 'NAME="Ubuntu"\nVERSION_ID="14.04"\n').os).toEqual({
      name: 'Ubuntu',
      version: '14.04.5',
      description: 'Ubuntu 14.04.5 LTS',
    });
    const r = parseOs(
      'Ubuntu 16.04.5 LTS',
      'NAME="Ubuntu"\nVERSION="18.04.1 LTS (Bionic Beaver)"\nVERSION_ID="18.04"',
    );
    expect(r.os.version).toBe('18.04.1');
    expect(r.problems).toEqual([
      'os: lsb_release (16.04.5) and /etc/os-release (18.04) disagree; using os-release',
    ]);
  });

  it('works from lsb_release alone', () => {
    expect(parseOs('Ubuntu 14.04.5 LTS', null).os).toEqual({
      name: 'Ubuntu',
      version: '14.04.5',
      description: 'Ubuntu 14.04.5 LTS',
    });
  });
});

describe('small parsers', () => {
  it('meminfo', () => {
    expect(parseMeminfo('MemTotal:       16424012 kB\nMemFree: 1 kB\n')).toBe(16039);
    expect(() => parseMeminfo('MemFree: 1 kB')).toThrow(/^cannot parse meminfo: no "MemTotal: N kB" line/);
  });

  it('ip: peers, labels and unknown lines', () => {
    const r = parseIpAddr(
      '3: tun0    inet 10.8.0.1 peer 10.8.0.2/32 scope global tun0\\       valid_lft forever\nnot an ip line\n',
    );
    expect(r.nics).toEqual([{ name: 'tun0', addresses: ['10.8.0.1'] }]);
    expect(r.problems).toEqual(['ip: ignored 1 unrecognised line(s)']);
  });

  it('qemu', () => {
    expect(parseQemuVersion('QEMU emulator version 2.0.0, Copyright (c) 2003-2008 Fabrice Bellard')).toEqual({
      version: '2.0.0',
      build: null,
    });
    expect(parseQemuVersion('')).toBeNull();
    expect(parseQemuVersion('kvm: command not found')).toBeNull();
  });

  it('packages: only installed ones; junk is counted', () => {
    const r = parsePackages(
      [
        'pitrix-ks-api 4.6.2-20200612 install ok installed',
        'pitrix-ks-old 4.3.0 deinstall ok config-files',
        'pitrix-ks-half 4.6.2 install reinstreq half-installed',
        'pitrix-ks-new  unknown ok not-installed',
        'dpkg-query: no packages found matching pitrix-*',
      ].join('\n'),
    );
    expect(r.packages).toEqual({ 'pitrix-ks-api': '4.6.2-20200612' });
    expect(r.problems).toEqual(['packages: ignored 1 unrecognised line(s)']);
  });

  it('installer VERSION', () => {
    expect(parseInstallerVersion('4.6.2\n')).toBe('4.6.2');
    expect(parseInstallerVersion('\nv4.4.3-20191101 build 7\n')).toBe('4.4.3');
    expect(() => parseInstallerVersion('cat: /pitrix/VERSION: No such file or directory')).toThrow(
      /^cannot parse version: \/pitrix\/VERSION holds no version/,
    );
  });
});

describe('parseSupervisorStatus', () => {
  it.each([
    ['bash: supervisorctl: command not found', 'absent'],
    ['sh: 1: supervisorctl: not found', 'absent'],
    ['unix:///var/run/supervisor.sock no such file', 'unreachable'],
    ['unix:///var/run/supervisor.sock refused connection', 'unreachable'],
    [
      "error: <class 'socket.error'>, [Errno 2] No such file or directory: file: /usr/lib/python2.7/socket.py line: 228",
      'unreachable',
    ],
    ['Error: .ini file does not include supervisorctl section', 'unreachable'],
    ['supervisorctl: timed out after 15s', 'unreachable'],
  ] as const)('%s → %s', (text, availability) => {
    const r = parseSupervisorStatus(text);
    expect(r.availability).toBe(availability);
    expect(r.services).toBeNull();
  });

  it('reads grouped programs, every state, and no programs at all', () => {
    const r = parseSupervisorStatus(
      [
        'pitrix:ws_server                 RUNNING   pid 1234, uptime 10 days, 2:03:04',
        'billing_resource                 BACKOFF   Exited too quickly (process log may have details)',
        'cronus                           STARTING',
        'old_job                          EXITED    Jan 02 03:04 AM',
      ].join('\n'),
    );
    expect(r.services?.map((s) => [s.name, s.state])).toEqual([
      ['pitrix:ws_server', 'RUNNING'],
      ['billing_resource', 'BACKOFF'],
      ['cronus', 'STARTING'],
      ['old_job', 'EXITED'],
    ]);
    expect(r.services?.[2]?.detail).toBe('');
    expect(parseSupervisorStatus('')).toEqual({ availability: 'ok', services: [], problems: [] });
  });
});
