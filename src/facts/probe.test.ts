import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { AT, fixture } from '../../test/fixtures/facts/load.js';
import { dataDisks, rootDisk } from './disks.js';
import { FactsParseError } from './errors.js';
import { PROBE_COMMAND, PROBE_SCRIPT, PROBE_SECTIONS, parseProbeOutput } from './probe.js';
import { checkServicesRunning } from './supervisor.js';
import { osAtLeast, qemuAtLeast } from './version.js';

const parse = (name: string) => parseProbeOutput(fixture(name), { collectedAt: AT });

describe('parseProbeOutput on Ubuntu 14.04 (util-linux 2.20 pairs without TRAN, QEMU 2.0)', () => {
  const f = parse('ubuntu-14.04-hyper.probe.txt');

  it('reads the basic facts and ignores the login banner before the first marker', () => {
    expect(f).toMatchObject({
      cpuCores: 32,
      arch: 'x86_64',
      kernel: '4.4.0-148-generic',
      memoryMiB: 128825,
      qemuVersion: '2.0.0',
      qemuBuild: '2.0.0+dfsg-2ubuntu1.46',
      collectedAt: AT,
      supervisor: 'ok',
    });
  });

  it('takes the point release from lsb_release, the codename from VERSION', () => {
    expect(f.os).toEqual({
      name: 'Ubuntu',
      version: '14.04.5',
      description: 'Ubuntu 14.04.5 LTS',
      codename: 'trusty',
    });
    expect(osAtLeast(f, 'Ubuntu', '14.04.5')).toBe(true);
    expect(osAtLeast(f, 'Ubuntu', '14.04.6')).toBe(false);
  });

  it('rebuilds the device tree from flat pairs and finds the root disk under LVM', () => {
    expect(rootDisk(f.disks)).toBe('sda');
    expect(f.disks.find((d) => d.name === 'hyper--vg-root')).toMatchObject({ type: 'lvm', parent: 'sda5' });
    expect(dataDisks(f.disks).map((d) => d.name)).toEqual(['sdb', 'sdc']);
    expect(f.disks.find((d) => d.name === 'sdb')).toMatchObject({
      sizeBytes: 1919850381312,
      rotational: true,
      transport: null,
      model: 'PERC H730P Mini',
      diskClass: 'sata',
    });
    expect(f.disks.find((d) => d.name === 'sdc')).toMatchObject({ removable: true, model: 'Cruzer Blade' });
    expect(f.disks.find((d) => d.name === 'sr0')).toMatchObject({ type: 'rom', parent: null });
  });

  it('keeps only installed pitrix packages, without reporting known-but-absent ones', () => {
    expect(f.packages).toEqual({
      'pitrix-global-conf': '4.3.2-20190315',
      'pitrix-ks-compute-server': '4.3.2-20190315',
      'pitrix-ks-boss-daemon': '4.3.2-20190315',
    });
    expect(f.problems).toEqual([]);
  });

  it('groups addresses by interface', () => {
    expect(f.nics).toEqual([
      { name: 'lo', addresses: ['127.0.0.1/8', '::1/128'] },
      { name: 'br0', addresses: ['10.16.100.13/24', 'fe80::1618:77ff:fe4a:2b10/64'] },
      { name: 'br1', addresses: ['172.31.0.13/16'] },
    ]);
  });

  it('sees every program RUNNING', () => {
    expect(f.services).toHaveLength(4);
    expect(checkServicesRunning(f).ok).toBe(true);
  });
});

describe('parseProbeOutput on Ubuntu 16.04 (util-linux 2.27 JSON strings, QEMU 2.5)', () => {
  const f = parse('ubuntu-16.04-hyper.probe.txt');

  it('reads OS, QEMU and disks', () => {
    expect(f.os).toEqual({
      name: 'Ubuntu',
      version: '16.04.5',
      description: 'Ubuntu 16.04.5 LTS',
      codename: 'xenial',
    });
    expect(f.qemuVersion).toBe('2.5.0');
    expect(f.qemuBuild).toBe('1:2.5+dfsg-5ubuntu10.51');
    expect(qemuAtLeast(f, '2.5')).toBe(true);
    expect(rootDisk(f.disks)).toBe('sda');
    expect(dataDisks(f.disks).map((d) => [d.name, d.diskClass])).toEqual([
      ['sdb', 'sata'],
      // util-linux 2.27 leaves TRAN empty for NVMe: the name decides.
      ['nvme0n1', 'nvme'],
    ]);
    expect(f.problems).toEqual([]);
  });

  it('strips the @lower suffix and keeps secondary addresses', () => {
    expect(f.nics.map((n) => n.name)).toEqual(['lo', 'bond0.100', 'br0']);
    expect(f.nics[2]?.addresses).toEqual([
      '10.16.101.21/24',
      '10.16.101.250/24',
      'fe80::3efd:feff:fe9a:51c0/64',
    ]);
  });

  it('reports FATAL and STOPPED programs', () => {
    expect(f.services).toContainEqual({
      name: 'boss_daemon',
      state: 'FATAL',
      detail: 'Exited too quickly (process log may have details)',
    });
    expect(f.services).toContainEqual({ name: 'hyper_mirror', state: 'STOPPED', detail: 'Jun 14 10:02 AM' });
    const check = checkServicesRunning(f);
    expect(check.ok).toBe(false);
    expect(check.notRunning).toEqual(['boss_daemon (FATAL)', 'hyper_mirror (STOPPED)']);
    expect(checkServicesRunning(f, ['compute_server', 'vnc_proxy']).ok).toBe(true);
    expect(checkServicesRunning(f, ['compute_server', 'boss_collector']).notRunning).toEqual([
      'boss_collector (missing)',
    ]);
  });
});

describe('parseProbeOutput on Ubuntu 18.04', () => {
  it('a fresh node: no supervisor, no packages, QEMU 2.11 banner without a space', () => {
    const f = parse('ubuntu-18.04-new-node.probe.txt');
    expect(f.os).toEqual({
      name: 'Ubuntu',
      version: '18.04.1',
      description: 'Ubuntu 18.04.1 LTS',
      codename: 'bionic',
    });
    expect(f.qemuVersion).toBe('2.11.1');
    expect(f.qemuBuild).toBe('1:2.11+dfsg-1ubuntu7.41');
    expect(f.services).toBeNull();
    expect(f.supervisor).toBe('absent');
    expect(f.packages).toEqual({});
    expect(f.problems).toEqual([]);
    expect(checkServicesRunning(f)).toMatchObject({ ok: false, message: 'no supervisor is installed' });
    expect(dataDisks(f.disks).map((d) => [d.name, d.transport, d.diskClass])).toEqual([
      ['sdb', 'sas', 'ssd'],
      ['nvme0n1', 'nvme', 'nvme'],
    ]);
  });

  it('a webservice VM with supervisord down and no lsb_release', () => {
    const f = parse('ubuntu-18.04-webservice-supervisord-down.probe.txt');
    expect(f.os).toEqual({
      name: 'Ubuntu',
      version: '18.04.6',
      description: 'Ubuntu 18.04.6 LTS',
      codename: 'bionic',
    });
    expect(f.qemuVersion).toBeNull();
    expect(f.services).toBeNull();
    expect(f.supervisor).toBe('unreachable');
    expect(f.problems).toEqual([
      'supervisor: supervisord did not answer ("unix:///var/run/supervisor.sock no such file")',
    ]);
    // vdb is mounted, but only /, /boot and /boot/efi make a system disk.
    expect(dataDisks(f.disks).map((d) => d.name)).toEqual(['vdb']);
    expect(f.nics[1]).toEqual({ name: 'ens3', addresses: ['10.16.100.2/24', '10.16.100.250/24'] });
  });
});

describe('parseProbeOutput on broken output', () => {
  const cases: [string, RegExp][] = [
    ['empty.probe.txt', /^cannot parse output: the node probe printed nothing$/],
    [
      'garbage.probe.txt',
      /^cannot parse output: no @@pitrix: section markers, so this is not the node probe output/,
    ],
    ['truncated.probe.txt', /section "ip" before @@pitrix:end@@: the node probe was cut off/],
    ['not-a-number-cpu.probe.txt', /^cannot parse cpu: unexpected value "nproc: invalid option"$/],
  ];
  it.each(cases)('%s gives a clear FactsParseError', (name, message) => {
    const run = () => parse(name);
    expect(run).toThrow(FactsParseError);
    expect(run).toThrow(message);
  });

  it('names the section when a required one is missing', () => {
    const text = fixture('ubuntu-16.04-hyper.probe.txt').replace(
      /@@pitrix:meminfo@@[\s\S]*?(?=@@pitrix:lsb@@)/,
      '',
    );
    expect(() => parseProbeOutput(text)).toThrow(/^cannot parse meminfo: section missing/);
  });

  it('reports optional sections that are missing or unparseable as problems', () => {
    const text = fixture('ubuntu-16.04-hyper.probe.txt')
      .replace(/"blockdevices": \[/, '"blockdevices": [[')
      .replace(/@@pitrix:ip@@[\s\S]*?(?=@@pitrix:qemu@@)/, '');
    const f = parseProbeOutput(text);
    expect(f.disks).toEqual([]);
    expect(f.nics).toEqual([]);
    expect(f.problems).toEqual([
      expect.stringMatching(/^cannot parse lsblk: invalid JSON/),
      'ip: section missing from the probe output',
    ]);
  });

  it('throws when neither OS source names a version', () => {
    const text = fixture('ubuntu-18.04-new-node.probe.txt')
      .replace('Ubuntu 18.04.1 LTS\n', 'No LSB modules are available.\n')
      .replace(/@@pitrix:osrelease@@[\s\S]*?(?=@@pitrix:lsblk@@)/, '@@pitrix:osrelease@@\n');
    expect(() => parseProbeOutput(text)).toThrow(
      /^cannot parse os: neither lsb_release -ds nor \/etc\/os-release/,
    );
  });
});

describe('the probe script', () => {
  it('has one marker per section, in the documented order, and ends with end', () => {
    const markers = [...PROBE_SCRIPT.matchAll(/^m (\w+)/gm)].map((m) => m[1]);
    expect(markers).toEqual([...PROBE_SECTIONS, 'end']);
    expect(PROBE_COMMAND.purpose).toBe('collect node facts');
    expect(PROBE_SCRIPT).toContain("dpkg-query -W -f='${Package} ${Version} ${Status}\\n' 'pitrix-*'");
    expect(PROBE_SCRIPT).toContain('lsblk -J -b -o NAME,TYPE,SIZE,ROTA,RM,TRAN,MODEL,MOUNTPOINT');
  });

  // The real script through a real POSIX shell, on this machine: proves quoting and framing.
  it.skipIf(process.platform !== 'linux')('runs under sh and parses on this machine', () => {
    const out = execFileSync('sh', ['-c', PROBE_SCRIPT], { encoding: 'utf8', timeout: 30_000 });
    const f = parseProbeOutput(out);
    expect(f.cpuCores).toBeGreaterThan(0);
    expect(f.memoryMiB).toBeGreaterThan(0);
    expect(f.kernel).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    expect(f.os.version).toMatch(/^\d/);
  });
});
