/**
 * Builds each host's root directory (from the root namespace) and the init script that turns it
 * into the host's private view: a chroot whose system dirs are bind mounts of the machine's own
 * (read-only where nothing should write), whose /etc, /root and /pitrix are the host's, and whose
 * /usr/local/bin holds the fact shims. Nothing is written outside WORKDIR.
 */
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFacts } from './facts-files.js';
import { lsbRelease, osRelease } from './render.js';
import { FAULTS_FILE, STATE_FILE, writeJson } from './store.js';
import {
  nodeSettings,
  SETTINGS_TEMPLATE,
  serverYaml,
  VARIABLES_TEMPLATE,
  VM_VARIABLES_TEMPLATE,
} from './templates.js';
import type { HostState } from './types.js';

/** Top-level dirs the hosts share read-write; the rest are read-only. */
const SHARED_RW = new Set(['tmp', 'dev', 'run', 'work', 'proc', 'sys', 'home', 'mnt', 'media']);
const PER_HOST = new Set(['etc', 'root', 'pitrix', 'lost+found', 'old_root']);
/** /etc entries each host owns instead of seeing the machine's. */
const ETC_OWN = new Set([
  'os-release',
  'lsb-release',
  'hostname',
  'supervisor',
  'nginx',
  'keepalived',
  'rc.local',
  'haproxy',
]);

export const NODE_SHIMS = [
  'supervisorctl',
  'lsb_release',
  'lsblk',
  'dpkg-query',
  'kvm',
  'qemu-system-x86_64',
  'ip',
  'nproc',
  'uname',
  'service',
  'shutdown',
  'poweroff',
  'hostname',
];

/** Machine commands only the firstbox has simulated (R5: backups over rsync, HTTP and TCP health checks). */
export const FIRSTBOX_SHIMS = ['rsync', 'curl', 'nc'];

export function firstboxTools(installerVersion: string): string[] {
  const [maj = 0, min = 0] = installerVersion.split('.').map(Number);
  const py = maj > 4 || (maj === 4 && min >= 3);
  const cli = [
    'add-nodes',
    'describe-nodes',
    'describe-zones',
    'collect-nodes',
    'modify-node-attributes',
    'config-qingcloud',
    'scale-qingcloud',
    'scale-qingcloud-zone',
    'deploy-qingcloud-component',
  ];
  const jobs = [
    'collect-nodes',
    'config-qingcloud',
    'scale-qingcloud',
    'scale-qingcloud-zone',
    'deploy-qingcloud-component',
  ];
  return [
    '/pitrix/build/build_pkgs.py',
    py ? '/pitrix/build/build_pkgs_allinone.py' : '/pitrix/build/build_pkgs_allinone.sh',
    '/pitrix/upgrade/update.sh',
    '/pitrix/upgrade/exec_nodes.sh',
    '/pitrix/upgrade/build_global_conf.sh',
    '/pitrix/bin/scan_all.sh',
    py ? '/pitrix/bin/gen_node_list.py' : '/pitrix/bin/gen_node_list.sh',
    '/pitrix/bin/erase_data_disks.sh',
    '/pitrix/bin/update_hyper_mirror.sh',
    '/pitrix/bin/dump_vbc_route.sh',
    '/pitrix/bin/dump_hosts.py',
    '/pitrix/bin/operate_cache_by_re',
    '/pitrix/bin/boss2-manager/django_manage.sh',
    '/pitrix/node/collect/establish_ssh.sh',
    '/pitrix/lib/pitrix-scripts/src/tag/migrate_for_tag_server.py',
    '/pitrix/install/launch_vms.sh',
    '/pitrix/install/install_nodes.sh',
    // seed 004 line 74.
    '/pitrix/bin/gen_mac.py',
    ...cli.map((c) => `/pitrix/cli/${c}.py`),
    ...jobs.flatMap((j) => [`/pitrix/cli/get-${j}-status.py`, `/pitrix/cli/get-${j}-log.py`]),
  ];
}

/** Tools a node carries by role (R1 migrates on a webservice node; R3 migrates on a boss node). */
export function nodeTools(roles: string[]): string[] {
  const out: string[] = [];
  if (roles.includes('webservice'))
    out.push(
      '/pitrix/lib/pitrix-scripts/src/tag/migrate_for_tag_server.py',
      '/pitrix/bin/operate_cache_by_re',
      // Where seed 003 runs it for a new zone in a region (the zone cache clear).
      '/pitrix/lib/pitrix-scripts/cache/operate_cache_by_re',
    );
  if (roles.includes('boss')) out.push('/pitrix/bin/boss2-manager/django_manage.sh');
  return out;
}

export interface LayoutPaths {
  workDir: string;
  services: string;
  nodePath: string;
  bundle: string;
}

export function hostDir(workDir: string, id: string): string {
  return join(workDir, 'hosts', id);
}

function shim(path: string, body: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, body);
  chmodSync(path, 0o755);
}

export function commandShim(p: LayoutPaths, name: string): string {
  return `#!/bin/sh\nNODE_COMPILE_CACHE=${p.workDir}/bin/cache exec ${p.nodePath} ${p.bundle} ${name} "$@"\n`;
}

/** uname/nproc/... answer from pre-rendered files in a few ms; anything unusual goes to Node. */
function factShim(p: LayoutPaths, name: string): string {
  const fallback = `NODE_COMPILE_CACHE=${p.workDir}/bin/cache exec ${p.nodePath} ${p.bundle} ${name} "$@"`;
  const F = '/.sim/facts';
  switch (name) {
    case 'nproc':
      return `#!/bin/sh\n[ $# -eq 0 ] && exec cat ${F}/nproc\n${fallback}\n`;
    case 'uname':
      return `#!/bin/sh\ncase "$*" in -m) exec cat ${F}/arch;; -r) exec cat ${F}/kernel;; esac\n${fallback}\n`;
    case 'lsb_release':
      return `#!/bin/sh\ncase "$*" in -ds|-sd|"-d -s"|"-s -d") exec cat ${F}/lsb;; esac\n${fallback}\n`;
    case 'kvm':
    case 'qemu-system-x86_64':
      return `#!/bin/sh\nif [ ! -s ${F}/qemu ]; then echo "sh: 1: ${name}: not found" >&2; exit 127; fi\ncase "$*" in --version) exec cat ${F}/qemu;; esac\n${fallback}\n`;
    case 'ip':
      return `#!/bin/sh\ncase "$*" in "-o addr show"|"-o addr"|"-o a") exec cat ${F}/ip-addr;; "-o link show"|"-o link") exec cat ${F}/ip-link;; esac\n${fallback}\n`;
    default:
      return `#!/bin/sh\n${fallback}\n`;
  }
}

/** Writes everything a host needs before its sshd starts. Returns the init script path. */
export function layoutHost(p: LayoutPaths, h: HostState, all: HostState[]): string {
  const dir = hostDir(p.workDir, h.id);
  const R = join(dir, 'fs');
  for (const d of [
    '.sim/facts',
    '.sim/shims',
    '.sim/realetc',
    '.sim/services',
    'etc',
    'root/.ssh',
    'pitrix/conf',
    'pitrix/log',
  ]) {
    mkdirSync(join(R, d), { recursive: true });
  }
  mkdirSync(join(dir, 'sshd'), { recursive: true });
  const top = readdirSync('/').filter((n) => !PER_HOST.has(n));
  const mounts: string[] = [];
  const roDirs: string[] = [];
  for (const n of top) {
    const st = lstatSync(`/${n}`);
    if (st.isSymbolicLink()) {
      if (!existsSync(join(R, n))) symlinkSync(readlinkSync(`/${n}`), join(R, n));
    } else if (st.isDirectory()) {
      mkdirSync(join(R, n), { recursive: true });
      mounts.push(n);
      if (!SHARED_RW.has(n)) roDirs.push(n);
    }
  }
  for (const e of readdirSync('/etc')) {
    if (ETC_OWN.has(e)) continue;
    const link = join(R, 'etc', e);
    if (!existsSync(link) && !isLink(link)) symlinkSync(`/.sim/realetc/${e}`, link);
  }
  writeFileSync(join(R, 'etc/hostname'), `${h.hostname}\n`);
  writeFileSync(join(R, 'etc/os-release'), osRelease(h.facts));
  writeFileSync(join(R, 'etc/lsb-release'), lsbRelease(h.facts));
  writeFileSync(
    join(R, 'etc/rc.local'),
    '#!/bin/sh -e\n# rc.local\n/pitrix/bin/keepalived_check.sh &\nexit 0\n',
  );
  mkdirSync(join(R, 'etc/supervisor/conf.d'), { recursive: true });
  if (h.supervisor.installed) {
    writeFileSync(
      join(R, 'etc/supervisor/supervisord.conf'),
      '[include]\nfiles = /etc/supervisor/conf.d/*.conf\n',
    );
    for (const name of Object.keys(h.supervisor.programs))
      writeFileSync(join(R, `etc/supervisor/conf.d/${name}.conf`), programConf(name));
  }
  if (h.services.nginx) {
    for (const d of ['sites-available', 'sites-enabled']) {
      mkdirSync(join(R, `etc/nginx/${d}`), { recursive: true });
      writeFileSync(join(R, `etc/nginx/${d}/default`), 'server { listen 80 default_server; }\n');
      if (h.bossV1 && h.roles.includes('proxy'))
        writeFileSync(
          join(R, `etc/nginx/${d}/boss.conf`),
          'server { listen 8888; server_name boss; location / { proxy_pass http://boss-console; } }\n',
        );
    }
    writeFileSync(
      join(R, 'etc/nginx/nginx.conf'),
      'user www-data;\nhttp { include /etc/nginx/sites-enabled/*; }\n',
    );
  }
  if (h.services.keepalived) mkdirSync(join(R, 'etc/keepalived'), { recursive: true });

  writeJson(join(R, STATE_FILE), h);
  writeJson(join(R, FAULTS_FILE), []);
  writeFacts(R, h, []);
  writeFileSync(join(R, 'root/.ssh/known_hosts'), '');
  for (const name of NODE_SHIMS) shim(join(R, '.sim/shims', name), factShim(p, name));
  if (h.kind === 'firstbox')
    for (const name of FIRSTBOX_SHIMS) shim(join(R, '.sim/shims', name), factShim(p, name));
  const tools = h.kind === 'firstbox' ? firstboxTools(h.firstbox!.installerVersion) : nodeTools(h.roles);
  for (const t of tools) shim(join(R, t), commandShim(p, t.split('/').pop()!));
  // A physical host of VMs has libvirt's virsh (seed 004 line 138).
  if (all.some((x) => x.vm?.physicalHost === h.id))
    shim(join(R, '.sim/shims/virsh'), commandShim(p, 'virsh'));
  if (h.kind === 'firstbox') layoutFirstbox(R, h, all);
  else layoutNode(R, h, all);
  const init = join(dir, 'init.sh');
  writeFileSync(
    init,
    initScript(
      p,
      h,
      R,
      mounts,
      roDirs,
      h.kind === 'firstbox' ? all.filter((x) => x.kind === 'node').map((x) => x.id) : [],
    ),
  );
  chmodSync(init, 0o755);
  return init;
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

export function programConf(name: string): string {
  return `[program:${name}]\ncommand=/pitrix/bin/${name}\nautostart=true\nautorestart=true\nstdout_logfile=/pitrix/log/${name}.log\n`;
}

function layoutFirstbox(R: string, h: HostState, all: HostState[]): void {
  const fb = h.firstbox!;
  const w = (rel: string, body: string) => {
    mkdirSync(dirname(join(R, rel)), { recursive: true });
    writeFileSync(join(R, rel), body);
  };
  w('pitrix/VERSION', `${fb.installerVersion}\n`);
  const globalZone = fb.zones.find((z) => z.is_global_zone === 1)?.zone_id ?? fb.zones[0]!.zone_id;
  const qemu = /version (\S+)/.exec(all.find((x) => x.facts.qemu)?.facts.qemu ?? '')?.[1] ?? '2.5.0';
  for (const z of fb.zones) {
    w(
      `pitrix/conf/variables/global/server.yaml.${z.zone_id}`,
      serverYaml(z, { domain: fb.domain, proxyVip: fb.proxyVip[z.zone_id] ?? '', globalZone, qemu }),
    );
    w(
      `pitrix/config/variables.${z.zone_id}.yaml`,
      `zone_id: ${z.zone_id}\nregion_id: ${z.region_id}\nis_global_zone: ${z.is_global_zone}\ncloud_type: private\nmode: ${z.mode}\ndeploy_boss: 0\n${fb.proxyVip[z.zone_id] ? `proxy_vip: ${fb.proxyVip[z.zone_id]}\n` : ''}`,
    );
  }
  if (all.some((x) => x.bossV1))
    for (const z of fb.zones)
      w(
        `pitrix/conf/variables/global/boss.yaml.${z.zone_id}`,
        `boss:\n  version: 1\n  zone_id: ${z.zone_id}\n`,
      );
  w(
    'pitrix/conf/admin_beta.yaml',
    `# admin credentials for internal API calls\nqy_access_key_id: ADMINBETAKEY\nqy_secret_access_key: '********'\nhost: api.${fb.domain}\nport: 7777\nprotocol: http\n`,
  );
  w('pitrix/config/templates/settings.template.yaml', SETTINGS_TEMPLATE);
  w('pitrix/config/templates/vm_variables.template.yaml', VM_VARIABLES_TEMPLATE);
  w('pitrix/config/templates/variables.template.yaml', VARIABLES_TEMPLATE);
  w('pitrix/conf/settings/global', `domain: ${fb.domain}\nglobal_zone: ${globalZone}\n`);
  for (const n of all)
    if (n.kind === 'node' && !n.spare) w(`pitrix/conf/settings/${n.id}`, nodeSettings(n, h.address));
  w('pitrix/conf/node_list', nodeListText(fb.nodes));
  // Per-role node files the installer keeps: a shell array R3 sources (seed 002 line 193).
  for (const role of [...new Set(fb.nodes.flatMap((n) => n.roles))])
    w(
      `pitrix/conf/nodes/${role}`,
      `nodes=(${fb.nodes
        .filter((n) => n.roles.includes(role))
        .map((n) => n.node_id)
        .join(' ')})\n`,
    );
  for (const d of [
    'repo/indep/boss2',
    'repo/web',
    'repo/built',
    'log/deploy',
    'log/collect',
    'log/config',
    'log/scale',
    'config',
    'backup',
  ])
    mkdirSync(join(R, 'pitrix', d), { recursive: true });
  for (const [pkg, versions] of Object.entries(fb.repo))
    for (const v of versions) w(`pitrix/repo/indep/${pkg}_${v}_all.deb`, `${pkg} ${v}\n`);
  mkdirSync(join(R, '.sim/nodes'), { recursive: true });
  for (const n of all) if (n.kind === 'node') mkdirSync(join(R, '.sim/nodes', n.id), { recursive: true });
}

export function nodeListText(
  nodes: { node_id: string; mgmt_ip: string; roles: string[]; zone_id: string }[],
): string {
  return nodes.map((n) => `${n.node_id} ${n.mgmt_ip} ${n.zone_id} ${n.roles.join(',')}\n`).join('');
}

function layoutNode(R: string, h: HostState, all: HostState[]): void {
  const w = (rel: string, body: string) => {
    mkdirSync(dirname(join(R, rel)), { recursive: true });
    writeFileSync(join(R, rel), body);
  };
  w('pitrix/conf/server.yaml', `# pushed by pitrix-global-conf\nzone_id: ${h.zone}\n`);
  if (h.roles.includes('webservice')) {
    w(
      'pitrix/conf/client.yaml',
      `qy_access_key_id: ${h.zone.toUpperCase()}ACCESSKEY\nqy_secret_access_key: '********'\nzone: ${h.zone}\n`,
    );
    w('pitrix/lib/pitrix-webconsole/static/images/logo.png', 'PNG(simulated logo)\n');
    w('pitrix/lib/pitrix-webconsole/local_config.yaml', `site_name: QingCloud\nzone: ${h.zone}\n`);
    // Where R5 backs them up from (seed 004).
    w('pitrix/lib/pitrix-webconsole/mysite/local_config.yaml', `site_name: QingCloud\nzone: ${h.zone}\n`);
    w(
      'pitrix/conf/web_console_settings.py',
      `console_key_id = '${h.zone.toUpperCase()}CONSOLEKEY'\nconsole_secrect_key = '********'\n`,
    );
    w(
      'pitrix/lib/pitrix-webconsole/web_console_settings.py',
      `ACCESS_KEY_ID = '${h.zone.toUpperCase()}CONSOLEKEY'\n`,
    );
  }
  // VM images live on the physical host the scenario puts each VM on, in /pitrix/kernels/
  // (seed 004 lines 139–142), with the libvirt domain definition beside them.
  for (const vm of all.filter((x) => x.vm?.physicalHost === h.id)) {
    w(`pitrix/kernels/${vm.id}.img`, `${JSON.stringify(imageOf(vm))}\n`);
    w(
      `pitrix/kernels/${vm.id}.xml`,
      `<domain type='kvm'><name>${vm.id}</name><memory unit='KiB'>${vm.facts.memoryKb}</memory></domain>\n`,
    );
    w(`pitrix/kernels/${vm.id}.Done`, '');
  }
}

/** A VM image is a snapshot of the VM's state: booting it restores OS, packages and programs. */
export function imageOf(vm: HostState): Pick<HostState, 'facts' | 'packages' | 'supervisor' | 'services'> {
  return { facts: vm.facts, packages: vm.packages, supervisor: vm.supervisor, services: vm.services };
}

function initScript(
  p: LayoutPaths,
  h: HostState,
  R: string,
  mounts: string[],
  ro: string[],
  nodeIds: string[],
): string {
  const W = p.workDir;
  const sshdDir = join(hostDir(W, h.id), 'sshd');
  // /tmp (or whatever holds WORKDIR) first, so later mounts under R are not copied into it.
  const order = [...mounts].sort(
    (a, b) => (W.startsWith(`/${b}/`) ? 1 : 0) - (W.startsWith(`/${a}/`) ? 1 : 0),
  );
  return `#!/bin/bash
# Mount namespace of simulated host ${h.id}: run by unshare, then becomes sshd inside the chroot.
set -e
R=${R}
${order.map((n) => `mount --rbind /${n} $R/${n}`).join('\n')}
${ro.map((n) => `mount -o remount,bind,ro $R/${n}`).join('\n')}
mount --bind /etc $R/.sim/realetc
mount -o remount,bind,ro $R/.sim/realetc
mount --bind $R/.sim/facts/meminfo $R/proc/meminfo
mount --bind $R/.sim/shims $R/usr/local/bin
# Hide the other hosts' state; keep only what this host's sshd and commands need.
mount -t tmpfs -o size=1m,mode=755 sim-hide $R${W}
mkdir -p $R${W}/bin $R${sshdDir}
mount --bind ${W}/bin $R${W}/bin
mount --bind ${sshdDir} $R${sshdDir}
mount --bind ${p.services} $R/.sim/services
${nodeIds.map((id) => `mount --bind ${join(hostDir(W, id), 'fs')} $R/.sim/nodes/${id}`).join('\n')}
exec chroot $R "$@"
`;
}
