/** R5: VM rebuilds (launch_vms.sh, install_nodes.sh), MACs, and the webservice cache tool. */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROLE_SERVICES } from '../catalog.js';
import { writeFacts } from '../facts-files.js';
import type { imageOf } from '../layout.js';
import { codenameOf } from '../render.js';
import { parseSettings } from '../settings.js';
import { readConfig, readJson, TIMELINE, timeline } from '../store.js';
import type { HostState, TimelineEvent } from '../types.js';
import {
  CmdError,
  ctl,
  faultsOf,
  fb,
  getopt,
  nodeRoot,
  out,
  ROOT,
  readNode,
  SERVICES,
  sleep,
  updateFb,
  updateNode,
} from './ctx.js';
import { recordedRun } from './jobs.js';
import { installOnNode } from './packages.js';

type Cmd = (args: string[]) => Promise<number> | number;

const KERNELS: Record<string, string> = {
  '14.04': '4.4.0-148-generic',
  '16.04': '4.4.0-142-generic',
  '18.04': '4.15.0-213-generic',
  '20.04': '5.4.0-182-generic',
};

/** Where a physical host keeps what its libvirt started, and when (what virsh reports). */
const DOMAINS = '.sim/domains.json';
type Domains = Record<string, { startedAt: number }>;

const launchVms: Cmd = async (args) => {
  const { opts, pos } = getopt(args, []);
  const force = Boolean(opts['-f']);
  const id = pos[0];
  if (!id) throw new CmdError('usage: launch_vms.sh [-f] NODE', 2);
  const f = fb();
  const rec = f.nodes.find((n) => n.node_id === id);
  if (!rec) throw new CmdError(`node ${id} is not in the node list`, 2);
  const settingsPath = join(ROOT, 'pitrix/conf/settings', id);
  if (!existsSync(settingsPath)) throw new CmdError(`/pitrix/conf/settings/${id} not found`, 2);
  const lastBuild = f.builds.filter((b) => b.pkg === 'pitrix-allinone').at(-1);
  if (!lastBuild || statSync(settingsPath).mtimeMs > lastBuild.at) {
    throw new CmdError(
      `settings of ${id} changed after the last build_pkgs_allinone; run gen_node_list and build_pkgs_allinone first`,
      2,
    );
  }
  const s = parseSettings(readFileSync(settingsPath, 'utf8'), `/pitrix/conf/settings/${id}`);
  const ph = s.physical_host;
  if (!ph || !f.nodes.some((n) => n.node_id === ph))
    throw new CmdError(`settings/${id}: unknown physical_host ${ph}`, 2);
  const vm = readNode(rec.host);
  if (vm.power === 'on')
    throw new CmdError(`VM ${id} is running; stop it (shutdown -h now) before launching`, 1);
  const host = readNode(ph);
  if (host.power !== 'on') throw new CmdError(`physical host ${ph} is down`, 1);
  const bridge = s.physical_host_network_interface ?? '';
  if (!host.facts.nics.some((n) => n.name === bridge))
    throw new CmdError(`bridge ${bridge} not found on ${ph}`, 1);
  const dir = join(nodeRoot(ph), 'pitrix/kernels');
  mkdirSync(dir, { recursive: true });
  const img = join(dir, `${id}.img`);
  let boot: ReturnType<typeof imageOf>;
  out(`launch_vms: ${force ? 'creating' : 'starting'} ${id} on ${ph} (bridge ${bridge})`);
  // Long enough (unscaled 2.2 s) that a dropped session or an operator restart lands mid-run.
  await sleep(1200);
  out(`launch_vms: ${force ? 'copying the base image' : 'defining the domain'} for ${id}`);
  await sleep(1000);
  if (existsSync(img) && !force) {
    boot = JSON.parse(readFileSync(img, 'utf8')) as ReturnType<typeof imageOf>;
    out(`launch_vms: booting existing image ${id}.img`);
  } else {
    if (existsSync(img)) out(`launch_vms: WARNING: overwriting existing ${id}.img`);
    const osv = s.os_version ?? vm.facts.os.version;
    const mm = osv.split('.').slice(0, 2).join('.');
    // os_name is the release code name (seed 004 line 102: os_name="xenial").
    const codename = s.os_name ?? vm.facts.os.codename;
    if (codename !== codenameOf(osv))
      throw new CmdError(`launch_vms: no base image for os_name="${codename}" os_version="${osv}"`, 1);
    boot = {
      facts: {
        ...vm.facts,
        os: { name: vm.facts.os.name, version: osv, codename },
        kernel: KERNELS[mm] ?? vm.facts.kernel,
      },
      packages: {},
      supervisor: { installed: false, programs: {} },
      services: {},
    };
    writeFileSync(img, `${JSON.stringify(boot)}\n`);
    writeFileSync(
      join(dir, `${id}.xml`),
      `<domain type='kvm'><name>${id}</name><os>${boot.facts.os.name} ${osv} (${codename})</os></domain>\n`,
    );
    writeFileSync(join(dir, `${id}.Done`), '');
  }
  const domains = join(nodeRoot(ph), DOMAINS);
  writeFileSync(
    domains,
    JSON.stringify({ ...readJson<Domains>(domains, {}), [id]: { startedAt: Date.now() } }),
  );
  const after = updateNode(rec.host, (h: HostState) => {
    Object.assign(h, boot);
    h.power = 'on';
    h.vm = { physicalHost: ph, mac: s.mgmt_network_mac_address ?? h.vm?.mac ?? '' };
    return h;
  });
  writeFacts(nodeRoot(rec.host), after, faultsOf(nodeRoot(rec.host)));
  updateFb((fx) => {
    const r = fx.nodes.find((n) => n.node_id === id)!;
    r.os_name = after.facts.os.name;
    r.os_version = after.facts.os.version;
  });
  timeline(SERVICES, {
    time: Date.now(),
    host: rec.host,
    event: 'poweron',
    detail: force ? 'rebuilt' : 'booted',
  });
  // A rebuilt VM is a new machine: new sshd host key.
  const temporary =
    s.mgmt_network_address && s.mgmt_network_address !== rec.mgmt_ip ? s.mgmt_network_address : undefined;
  const res = await ctl({
    op: 'poweron',
    host: rec.host,
    regenerateHostKey: true,
    ...(temporary ? { lendAddress: temporary } : {}),
  });
  out(`launch_vms: ${id} is up (${rec.mgmt_ip}), host key ${String(res.hostKeyFingerprint ?? '')}`);
  return 0;
};

const installNodes: Cmd = async (args) => {
  const id = args.find((a) => !a.startsWith('-'));
  if (!id) throw new CmdError('usage: install_nodes.sh NODE', 2);
  const f = fb();
  const rec = f.nodes.find((n) => n.node_id === id);
  if (!rec) throw new CmdError(`node ${id} is not in the node list`, 2);
  if (readNode(rec.host).power !== 'on')
    throw new CmdError(`ssh: connect to host ${rec.mgmt_ip} port 22: Connection refused`, 1);
  out(`install_nodes: installing base system on ${id}`);
  // Unscaled 3 s: the installer's longest R5 step, where the fault cases land.
  for (const stage of ['apt sources', 'base packages', 'supervisor']) {
    out(`install_nodes: ${id}: ${stage}`);
    await sleep(1000);
  }
  for (const p of ['pitrix-node-base', 'pitrix-global-conf'])
    installOnNode(rec.host, p, f.repo[p]?.at(-1) ?? `${f.installerVersion}-1`, f);
  updateNode(rec.host, (h) => {
    h.supervisor.installed = true;
    for (const r of h.roles) for (const svc of ROLE_SERVICES[r] ?? []) h.services[svc] = 'running';
  });
  const root = nodeRoot(rec.host);
  if (readNode(rec.host).services.nginx)
    mkdirSync(join(root, 'etc/nginx/sites-enabled'), { recursive: true });
  out(`install_nodes: ${id} done`);
  return 0;
};

const genMac: Cmd = () => {
  const n = updateFb((f) => ++f.macSeq);
  const b = [0x52, 0x54, 0x9e, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  out(b.map((x) => x.toString(16).padStart(2, '0')).join(':'));
  return 0;
};

const operateCache: Cmd = (args) => {
  const { opts } = getopt(args, ['-A', '-P', '-H', '-S']);
  const action = opts['-A'] ?? 'list';
  const pattern = String(opts['-P'] ?? '.*');
  // -S "zoocassa0:11211;zoocassa1:11211" (seed 003): each server must be a zoocassa node, named by
  // node id, address or `ZONE-ID` hostname, on memcached's port.
  if (typeof opts['-S'] === 'string') {
    const zoocassa = readConfig(SERVICES).hosts.filter((h) => h.roles.includes('zoocassa'));
    for (const server of opts['-S'].split(';').filter(Boolean)) {
      const [host = '', port = ''] = server.split(':');
      const known = zoocassa.some((h) => h.id === host || h.address === host || host.endsWith(`-${h.id}`));
      if (!known || port !== '11211')
        throw new CmdError(`operate_cache_by_re: cannot connect to memcached at ${server}`, 1);
    }
  }
  const n = 3 + (pattern.length % 7);
  out(action === 'delete' ? `deleted ${n} keys matching ${pattern}` : `${n} keys match ${pattern}`);
  return 0;
};

/**
 * `virsh list --all` on a physical host, in libvirt's table format: every domain whose definition
 * is in /pitrix/kernels/ (`N.xml`, or `old-N.xml` after R5 moved it aside: the domain stays
 * defined, seed 004 note 4 on lines 136–143), running when it was started here and has not been
 * shut down since, `shut off` otherwise. Nothing else of virsh is simulated.
 */
const virsh: Cmd = (args) => {
  if (args[0] !== 'list' || args.slice(1).some((a) => a !== '--all'))
    throw new CmdError(
      `error: unknown command or option: '${args.join(' ')}' (only 'virsh list --all' is simulated)`,
      1,
    );
  const dir = join(ROOT, 'pitrix/kernels');
  const started = readJson<Domains>(join(ROOT, DOMAINS), {});
  const names = new Set<string>(Object.keys(started));
  if (existsSync(dir))
    for (const f of readdirSync(dir)) {
      const m = /^(?:old-)?(.+)\.xml$/.exec(f);
      if (m) names.add(m[1]!);
    }
  const lastOff = new Map<string, number>();
  for (const line of readFileSync(join(SERVICES, TIMELINE), 'utf8').split('\n')) {
    if (!line) continue;
    const ev = JSON.parse(line) as TimelineEvent;
    if (ev.event === 'poweroff') lastOff.set(ev.host, ev.time);
  }
  out(' Id    Name                           State');
  out('----------------------------------------------------');
  let n = 0;
  for (const name of [...names].sort()) {
    // Started by launch_vms here after its last shutdown; one the layout defined runs until shut down.
    const since = started[name]?.startedAt;
    const off = lastOff.get(name);
    const on = since !== undefined ? off === undefined || since > off : off === undefined;
    n++;
    out(` ${(on ? String(n) : '-').padEnd(5)} ${name.padEnd(30)} ${on ? 'running' : 'shut off'}`);
  }
  out('');
  return 0;
};

export const VM_COMMANDS: Record<string, Cmd> = {
  'launch_vms.sh': (args) => recordedRun('launch_vms.sh', args, async () => launchVms(args)),
  'install_nodes.sh': (args) => recordedRun('install_nodes.sh', args, async () => installNodes(args)),
  'gen_mac.py': genMac,
  virsh,
  operate_cache_by_re: operateCache,
};
