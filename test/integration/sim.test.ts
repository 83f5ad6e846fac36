/**
 * The simulated platform over real OpenSSH: each host is its own sshd with its own state, the
 * shims report the scenario's facts, an R4 scale-out typed by hand changes node state, faults
 * and the command log work, and nothing leaks onto the machine.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../hack/sim/platform.js';

const SCENARIO = join(import.meta.dirname, '../../examples/sim/standard.yaml');
let p: Platform;
let knownHosts: string;

function ssh(
  address: string,
  command: string,
  timeoutMs = 30_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'ssh',
      [
        '-i',
        p.clientKey.privateKeyPath,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        `UserKnownHostsFile=${knownHosts}`,
        '-o',
        'BatchMode=yes',
        '-o',
        'ConnectTimeout=5',
        `root@${address}`,
        command,
      ],
      { timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 255
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function sshdPidsUnder(dir: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return readlinkSync(`/proc/${e}/root`).startsWith(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

beforeAll(async () => {
  const t0 = Date.now();
  // Subnet 201: away from the scenario's default, so a developer's `npm run sim` does not collide.
  p = await startPlatform({ scenario: SCENARIO, subnet: 201, timeScale: 0.5 });
  console.log(`standard.yaml up in ${Date.now() - t0} ms`);
  knownHosts = join(p.workDir, 'known_hosts');
  writeFileSync(knownHosts, p.knownHosts());
});

afterAll(async () => {
  await p?.stop();
});

describe('simulated platform over real sshd', () => {
  it('gives each host its own view and the scenario facts', async () => {
    const fbox = await ssh(
      p.firstbox.address,
      'cat /pitrix/VERSION; ls /pitrix/cli | wc -l; test -e /.sim/nodes/hyper1/.sim/state.json && echo sees-nodes',
    );
    expect(fbox.code).toBe(0);
    expect(fbox.stdout).toMatch(/^4\.6\.2\n/);
    expect(fbox.stdout).toContain('sees-nodes');
    const hyper = p.host('hyper1');
    const r = await ssh(
      hyper.address,
      "uname -m; uname -r; nproc; lsb_release -ds; grep MemTotal /proc/meminfo; kvm --version; dpkg-query -W -f='${Package} ${Version} ${Status}\\n' 'pitrix-*'; supervisorctl status; test -e /.sim/nodes && echo LEAK; test -d /pitrix/cli && echo LEAK2; true",
    );
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 4)).toEqual(['x86_64', '4.4.0-142-generic', '32', 'Ubuntu 16.04.5 LTS']);
    expect(r.stdout).toMatch(/MemTotal:\s+266435456 kB/);
    expect(r.stdout).toContain('QEMU emulator version 2.5.0');
    expect(r.stdout).toContain('pitrix-hyper 4.6.2-1 install ok installed');
    expect(r.stdout).toMatch(/compute_server\s+RUNNING\s+pid \d+, uptime/);
    expect(r.stdout).not.toContain('LEAK');
    // The spare with a RAID SSD and a USB stick: lsblk shows them as the hardware reports them.
    const spare = await ssh(
      p.host('hyper3').address,
      'lsblk -J -b -o NAME,TYPE,SIZE,ROTA,RM,TRAN,MODEL; supervisorctl status',
    );
    const blk = JSON.parse(spare.stdout.slice(0, spare.stdout.lastIndexOf('}') + 1)) as {
      blockdevices: { name: string; rota: string; rm: string; tran: string }[];
    };
    expect(blk.blockdevices.find((d) => d.name === 'sdb')).toMatchObject({ rota: '1', tran: 'sata' });
    expect(blk.blockdevices.find((d) => d.name === 'sdc')).toMatchObject({ rm: '1', tran: 'usb' });
    expect(spare.code).toBe(127);
  });

  it('runs an R4 scale-out typed by hand and the nodes end deployed and RUNNING', async () => {
    const [a, b] = [p.host('hyper3').address, p.host('hyper4').address];
    const script = [
      'set -e',
      'cd /root',
      `printf '${a}\\n${b}\\n' > scale.list`,
      '/pitrix/cli/add-nodes.py -I scale.list',
      '/pitrix/cli/describe-nodes.py -s new -f json > new.json',
      `printf '${a}\\n${b}\\n' > custom.list`,
      '/pitrix/node/collect/establish_ssh.sh custom.list 22 ubuntu n0t-default',
      `echo ${b} > h4.list && /pitrix/bin/erase_data_disks.sh -i h4.list -d sdb`,
      '/pitrix/cli/collect-nodes.py -I scale.list',
      `/pitrix/cli/modify-node-attributes.py -i ${a} -d sdc -s 0`,
      `/pitrix/cli/modify-node-attributes.py -i ${a} -d sdb -t ssd`,
      '/pitrix/cli/describe-nodes.py -s available -f json',
      `printf 'zone_id: pek3a\\nnodes:\\n  hyper: [${a}, ${b}]\\n' > /pitrix/config/scale_settings.pek3a.yaml`,
      '/pitrix/cli/config-qingcloud.py -s scale_settings.pek3a.yaml',
      '/pitrix/cli/scale-qingcloud.py -z pek3a -I scale.list',
      '/pitrix/cli/get-scale-qingcloud-status.py',
      '/pitrix/upgrade/exec_nodes.sh hyper "supervisorctl status"',
    ].join('\n');
    const r = await ssh(p.firstbox.address, script, 60_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[\d\d:\d\d:\d\d\] STEP 1\/6: check 2 node\(s\) of zone pek3a/);
    expect(r.stdout).toContain('"status":"successful"');
    expect(r.stdout).toContain(`==== hyper3 (${a}) ====`);
    expect(r.stdout).toContain('exec_nodes: 4 ok, 0 failed');
    const available = JSON.parse(
      r.stdout.split('\n').find((l) => l.includes('"total_count":2') && l.includes('available'))!,
    );
    expect(available.node_set[0].disks).toEqual([
      { device: 'sdb', type: 'ssd', size_gib: 1788, enabled: 1 },
      { device: 'sdc', type: 'ssd', size_gib: 16, enabled: 0 },
    ]);
    const s = await p.state('hyper3');
    expect(s.packages['pitrix-hyper']).toBe('4.6.2-1');
    expect(s.supervisor.programs.compute_server?.state).toBe('RUNNING');
    const fb = await p.state('firstbox');
    expect(fb.firstbox!.nodes.find((n) => n.node_id === 'hyper4')?.status).toBe('deployed');
    // exec_nodes.sh ran in each node's own context, recorded in that node's log.
    const log = await p.commandLog('hyper3');
    expect(
      log.some((e) => e.via === 'exec_nodes' && e.command === 'supervisorctl status' && e.exitCode === 0),
    ).toBe(true);
  });

  it('injects faults and records every command', async () => {
    const node = p.host('proxy1');
    await p.setFault(node.id, {
      kind: 'fail',
      match: 'supervisorctl',
      exitCode: 7,
      message: 'boom',
      times: 1,
    });
    const failed = await ssh(node.address, 'supervisorctl status');
    expect(failed).toMatchObject({ code: 7 });
    expect(failed.stderr).toContain('boom');
    expect((await ssh(node.address, 'supervisorctl status')).code).toBe(0);

    await p.setFault(node.id, { kind: 'wrongFacts', facts: { cpu: 2, os: { version: '14.04.4' } } });
    const wrong = await ssh(node.address, 'nproc; lsb_release -ds; lsblk -J 2>&1; echo rc=$?');
    expect(wrong.stdout).toMatch(/^2\nUbuntu 14\.04\.4 LTS\nlsblk: invalid option -- 'J'/);
    await p.clearFaults(node.id);
    expect((await ssh(node.address, 'nproc')).stdout).toBe('4\n');

    await p.setFault(node.id, { kind: 'hang', match: 'sleepy' });
    const t0 = Date.now();
    const hung = await ssh(node.address, 'echo sleepy', 2000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    expect(hung.stdout).toBe('');
    await p.clearFaults(node.id);

    await p.setFault(node.id, { kind: 'drop', match: 'long-job', afterMs: 300 });
    const dropped = await ssh(node.address, 'echo started; sleep 2; echo long-job finished');
    expect(dropped.code).toBe(255);
    expect(dropped.stdout).toContain('started');
    await p.clearFaults(node.id);

    const before = p.host('hyper2').hostKeyFingerprint;
    await p.flipHostKey('hyper2');
    expect(p.host('hyper2').hostKeyFingerprint).not.toBe(before);
    const refused = await ssh(p.host('hyper2').address, 'touch /root/should-not-exist');
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    expect((await p.commandLog('hyper2')).some((e) => e.command.includes('should-not-exist'))).toBe(false);

    const log = await p.commandLog(node.id);
    expect(log.find((e) => e.fault === 'fail')).toMatchObject({
      host: 'proxy1',
      command: 'supervisorctl status',
      exitCode: 7,
    });
    expect(log.every((e) => typeof e.durationMs === 'number' && e.time.endsWith('Z'))).toBe(true);
  });

  it('rebuilds a webservice VM with a new host key and keeps the old image (R5)', async () => {
    const ws = p.host('webservice1');
    const oldKey = ws.hostKeyFingerprint;
    expect((await ssh(ws.address, 'supervisorctl stop all >/dev/null; shutdown -h now')).code).toBe(0);
    await new Promise((r) => setTimeout(r, 800));
    expect((await ssh(ws.address, 'true')).code).toBe(255);
    const r = await ssh(
      p.firstbox.address,
      [
        'set -e',
        // seed 004 lines 138–142, the domain shut off first.
        '/pitrix/upgrade/exec_nodes.sh hyper1 "virsh list --all | grep -E \'webservice1 +shut off\' && cd /pitrix/kernels/ && rm -f webservice1.Done && mv webservice1.img old-webservice1.img && mv webservice1.xml old-webservice1.xml"',
        // settings/N is key="value" (seed 004 lines 79–118); os_name is the code name.
        'sed -i \'s/^physical_host="hyper1"/physical_host="hyper2"/; s/^os_name=.*/os_name="bionic"/; s/^os_version=.*/os_version="18.04.6"/\' /pitrix/conf/settings/webservice1',
        '/pitrix/bin/gen_node_list.py && /pitrix/build/build_pkgs_allinone.py',
        '/pitrix/install/launch_vms.sh -f webservice1',
        '/pitrix/install/install_nodes.sh webservice1',
        '/pitrix/upgrade/update.sh webservice1 global-webservice,global-website',
      ].join('\n'),
      60_000,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(p.host('webservice1').hostKeyFingerprint).not.toBe(oldKey);
    writeFileSync(knownHosts, p.knownHosts());
    const after = await ssh(ws.address, 'lsb_release -ds; supervisorctl status');
    expect(after.stdout).toMatch(/^Ubuntu 18\.04\.6 LTS\n/);
    expect(after.stdout).toMatch(/ws_server\s+RUNNING/);
    expect(await p.readState('hyper1', 'pitrix/kernels/old-webservice1.img')).toContain('16.04.5');
    expect(await p.readState('hyper2', 'pitrix/kernels/webservice1.img')).toContain('18.04.6');
    const virsh = await ssh(p.host('hyper2').address, 'virsh list --all');
    expect(virsh.stdout).toMatch(/^ \d+\s+webservice1\s+running$/m);
    const events = (await p.timeline()).filter((e) => e.host === 'webservice1').map((e) => e.event);
    expect(events).toEqual(['down', 'poweroff', 'poweron', 'up']);
  });

  it('in strict mode refuses what the originals do not name: usage and exit 2, or 127', async () => {
    const config = join(p.workDir, 'services/config.json');
    const before = readFileSync(config, 'utf8');
    writeFileSync(config, JSON.stringify({ ...JSON.parse(before), strict: true }));
    try {
      const named = await ssh(p.firstbox.address, '/pitrix/cli/describe-nodes.py -s new');
      expect(named.code).toBe(0);
      const option = await ssh(p.firstbox.address, '/pitrix/cli/describe-nodes.py -s all -f json');
      expect(option.code).toBe(2);
      expect(option.stderr).toMatch(/^usage: describe-nodes\.py/m);
      expect(option.stderr).toContain('unrecognized arguments: -f');
      const script = await ssh(p.firstbox.address, '/pitrix/cli/describe-zones.py -f json');
      expect(script.code).toBe(127);
      expect(script.stderr).toContain('describe-zones.py: not found');
    } finally {
      writeFileSync(config, before);
    }
    // Off again: the simulator's extras answer.
    expect((await ssh(p.firstbox.address, '/pitrix/cli/describe-zones.py -f json')).code).toBe(0);
  });

  it('stops cleanly: no sshd left, no /pitrix on the machine', async () => {
    const dir = join(p.workDir, 'hosts');
    expect(sshdPidsUnder(dir).length).toBeGreaterThan(0);
    await p.stop();
    await p.stop();
    expect(sshdPidsUnder(dir)).toEqual([]);
    expect(existsSync('/pitrix')).toBe(false);
    expect(existsSync(p.workDir)).toBe(false);
  });
});
