/** Package builds, the repository index, update.sh and exec_nodes.sh (the firstbox's reach into nodes). */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareVersions, PACKAGE_GROUPS, programsOf } from '../catalog.js';
import { imageOf } from '../layout.js';
import { readConfig } from '../store.js';
import type { FirstboxData, HostState } from '../types.js';
import {
  CmdError,
  err,
  fb,
  getopt,
  nodeRoot,
  out,
  ROOT,
  readNode,
  resolveTarget,
  SERVICES,
  sleep,
  str,
  updateFb,
  updateNode,
} from './ctx.js';
import { recordedRun, recordJob } from './jobs.js';
import { startProgram, writeProgramConf } from './node.js';

type Cmd = (args: string[]) => Promise<number> | number;

const CONF_PACKAGES: Record<string, string> = {
  'pitrix-global-conf': 'pitrix/conf/variables/global',
  'pitrix-ks-boss2-conf': 'pitrix/conf/variables/boss2',
  'pitrix-ks-boss2-console': 'pitrix/conf/variables/boss2',
};

function latest(f: FirstboxData, pkg: string): string | undefined {
  return [...(f.repo[pkg] ?? [])].sort(compareVersions).pop();
}

function debPath(pkg: string, version: string): string {
  return join(ROOT, 'pitrix/repo/built', `${pkg}_${version}_all.deb`);
}

/** Unscaled durations of a package build and of update.sh's work on one node. */
const BUILD_MS = 1500;
const UPDATE_NODE_MS = 1000;

/** Builds a package; configuration packages carry a snapshot of the files they are built from. */
export async function buildPackage(pkg: string): Promise<string> {
  const f = fb();
  const prev = latest(f, pkg) ?? `${f.installerVersion}-0`;
  const m = /^(.*)-(\d+)$/.exec(prev);
  const version = m ? `${m[1]}-${Number(m[2]) + 1}` : `${prev}-1`;
  out(`build ${pkg}: collecting sources from /pitrix/conf`);
  // A build takes a while (scaled): long enough for a dropped link or a restart to land mid-build.
  await sleep(BUILD_MS);
  const confDir = CONF_PACKAGES[pkg];
  const files: Record<string, string> = {};
  if (confDir && existsSync(join(ROOT, confDir))) {
    for (const name of readdirSync(join(ROOT, confDir))) {
      const p = join(ROOT, confDir, name);
      if (statSync(p).isFile()) files[name] = readFileSync(p, 'utf8');
    }
  }
  mkdirSync(join(ROOT, 'pitrix/repo/built'), { recursive: true });
  writeFileSync(debPath(pkg, version), JSON.stringify({ pkg, version, files }));
  updateFb((fx) => {
    fx.repo[pkg] = [...new Set([...(fx.repo[pkg] ?? []), version])];
    fx.builds.push({ pkg, version, at: Date.now() });
  });
  out(`build ${pkg}: ${pkg}_${version}_all.deb`);
  return version;
}

const buildPkgs: Cmd = async (args) => {
  const { opts } = getopt(args, ['-p']);
  const pkg = str(opts['-p']);
  if (!pkg) throw new CmdError('usage: build_pkgs.py -p PACKAGE', 2);
  if (!/^[a-z0-9][a-z0-9.+-]*$/.test(pkg)) throw new CmdError(`invalid package name ${pkg}`, 2);
  return recordJob('build_pkgs.py', pkg, undefined, async () => {
    await buildPackage(pkg);
    return 0;
  });
};

const WS_BASE = 'pitrix/build/packages/deb/pitrix-ks-webservice-base';

const buildAllinone: Cmd = async () => {
  const dir = join(ROOT, 'pitrix/conf/settings');
  const names = readdirSync(dir);
  out(`build allinone: ${names.length} settings files`);
  await buildPackage('pitrix-allinone');
  // R5 step 4/5 copy these out of the built webservice-base package.
  const w = (rel: string, body: string) => {
    mkdirSync(join(ROOT, WS_BASE, rel, '..'), { recursive: true });
    writeFileSync(join(ROOT, WS_BASE, rel), body);
  };
  w(
    'pitrix/ks/webservice-base/conf/nginx/nginx.conf',
    'user www-data;\nhttp { include /etc/nginx/sites-enabled/*; }\n',
  );
  w(
    'etc/keepalived/chk_health_webservice.sh',
    '#!/bin/sh\nsupervisorctl status ws_server | grep -q RUNNING\n',
  );
  w(
    'etc/keepalived/rc.local.keepalived.webservice',
    '# pitrix keepalived webservice hook\n/etc/init.d/keepalived restart\n',
  );
  for (const n of fb().nodes.filter((x) => x.roles.includes('webservice')))
    w(
      `etc/keepalived/keepalived.conf.webservice.${n.node_id}`,
      `vrrp_instance webservice { interface eth0; unicast_src_ip ${n.mgmt_ip}; }\n`,
    );
  return 0;
};

const buildGlobalConf: Cmd = () =>
  recordJob('build_global_conf.sh', 'pitrix-global-conf', undefined, async () => {
    await buildPackage('pitrix-global-conf');
    return 0;
  });

const scanAll: Cmd = async () => {
  const found: [string, string][] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else {
        const m = /^(.+)_([^_]+)_(all|amd64)\.deb$/.exec(e.name);
        if (m) found.push([m[1]!, m[2]!]);
      }
    }
  };
  walk(join(ROOT, 'pitrix/repo'));
  await sleep(200);
  const fresh = updateFb((f) => {
    let n = 0;
    for (const [pkg, v] of found) {
      if ((f.repo[pkg] ?? []).includes(v)) continue;
      f.repo[pkg] = [...(f.repo[pkg] ?? []), v];
      n++;
    }
    return n;
  });
  out(`scan_all: ${found.length} packages in /pitrix/repo, ${fresh} new`);
  return 0;
};

/** Expands update.sh's package list: names, or groups (members that exist in the repository). */
function expand(f: FirstboxData, list: string): string[] {
  return list
    .split(',')
    .filter(Boolean)
    .flatMap((p) => {
      const group = PACKAGE_GROUPS[p];
      if (!group) return [p];
      const have = group.filter((g) => f.repo[g]?.length);
      if (!have.length)
        throw new CmdError(`package group ${p}: none of ${group.join(', ')} found in the repository`, 1);
      return have;
    });
}

/** Installs a package version on a node (through the firstbox's private path to node state). */
export function installOnNode(nodeId: string, pkg: string, version: string, f: FirstboxData): void {
  const root = nodeRoot(nodeId);
  const deb = debPath(pkg, version);
  updateNode(nodeId, (h) => {
    h.packages[pkg] = version;
    const progs = programsOf(pkg);
    if (progs.length) {
      h.supervisor.installed = true;
      mkdirSync(join(root, 'etc/supervisor/conf.d'), { recursive: true });
      for (const p of progs) {
        writeProgramConf(root, p, true);
        startProgram(h, p);
      }
    }
    if (pkg === 'pitrix-global-conf' && existsSync(deb)) {
      const files = (JSON.parse(readFileSync(deb, 'utf8')) as { files: Record<string, string> }).files;
      const mine = files[`server.yaml.${h.zone}`];
      if (mine !== undefined) writeFileSync(join(root, 'pitrix/conf/server.yaml'), mine);
    }
  });
  syncImage(nodeId, f);
}

/** Keeps a VM's image on its physical host in step with the VM's disk (its state). */
export function syncImage(nodeId: string, _f: FirstboxData): void {
  const vm = readNode(nodeId);
  if (!vm.vm) return;
  const img = join(nodeRoot(vm.vm.physicalHost), 'pitrix/kernels', `${nodeId}.img`);
  if (existsSync(img)) writeFileSync(img, `${JSON.stringify(imageOf(vm))}\n`);
}

const update: Cmd = async (args) => {
  const { opts, pos } = getopt(args, []);
  const force = Boolean(opts['-f']);
  const [target, list] = pos;
  if (!target || !list) throw new CmdError('usage: update.sh [-f] TARGET PKG[,PKG...]', 2);
  const f = fb();
  const nodes = resolveTarget(f, target);
  const all = expand(f, list);
  for (const p of all)
    if (!latest(f, p))
      throw new CmdError(
        `package ${p} not found in the repository; place it under /pitrix/repo and run scan_all.sh`,
        1,
      );
  const zones = [...new Set(nodes.map((n) => n.zone_id))];
  return recordJob('update.sh', `${target} ${list}`, zones.length === 1 ? zones[0] : undefined, () =>
    updateNodes(nodes, all, list, force),
  );
};

async function updateNodes(
  nodes: ReturnType<typeof resolveTarget>,
  all: string[],
  list: string,
  force: boolean,
): Promise<number> {
  const f = fb();
  let failed = 0;
  for (const n of nodes) {
    await sleep(UPDATE_NODE_MS);
    const h: HostState = readNode(n.host);
    if (h.power !== 'on') {
      err(`update on ${n.node_id}: ssh: connect to host ${n.mgmt_ip} port 22: Connection refused`);
      failed++;
      if (!force) break;
      continue;
    }
    // A group upgrades the members a node already has; on a node with none, it installs them all.
    const groupOf = (p: string) => list.split(',').find((g) => PACKAGE_GROUPS[g]?.includes(p));
    const pkgs = all.filter((p) => {
      const g = groupOf(p);
      if (!g) return true;
      const members = all.filter((x) => groupOf(x) === g);
      return !members.some((x) => h.packages[x]) || Boolean(h.packages[p]);
    });
    for (const p of pkgs) {
      const v = latest(f, p)!;
      const old = h.packages[p] ?? 'none';
      await sleep(120);
      if (old !== v || force) installOnNode(n.host, p, v, f);
      out(`update ${p} on ${n.node_id}: ${old} -> ${v}`);
    }
  }
  if (failed) {
    out(`update.sh: ${failed} node(s) failed`);
    return 1;
  }
  out('update.sh: done');
  return 0;
}

/** Runs CMD in each node's own context (its mount namespace and root) through its command wrapper. */
export function runOnNode(
  nodeId: string,
  command: string,
  stdio: 'inherit' | 'pipe' = 'inherit',
): Promise<{ code: number; stdout: string }> {
  const cfg = readConfig(SERVICES);
  const pid = readFileSync(join(nodeRoot(nodeId), '.sim/pid'), 'utf8').trim();
  const child = spawn(
    'nsenter',
    [
      '-t',
      pid,
      '-m',
      '-r',
      '-w',
      'env',
      'PITRIX_SIM_VIA=exec_nodes',
      `SSH_ORIGINAL_COMMAND=${command}`,
      cfg.nodePath,
      cfg.bundle,
      '@wrapper',
    ],
    { stdio: ['ignore', stdio, 'inherit'] },
  );
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  return new Promise((r) => child.on('exit', (c) => r({ code: c ?? 1, stdout })));
}

const execNodes: Cmd = async (args) => {
  const { opts, pos } = getopt(args, []);
  const force = Boolean(opts['-f']);
  const [target, ...rest] = pos;
  const command = rest.join(' ');
  if (!target || !command) throw new CmdError("usage: exec_nodes.sh [-f] TARGET 'COMMAND'", 2);
  const nodes = resolveTarget(fb(), target);
  let ok = 0;
  let failed = 0;
  for (const n of nodes) {
    out(`==== ${n.node_id} (${n.mgmt_ip}) ====`);
    const h = readNode(n.host);
    let code: number;
    if (h.power !== 'on') {
      out(`ssh: connect to host ${n.mgmt_ip} port 22: Connection refused`);
      code = 255;
    } else code = (await runOnNode(n.host, command)).code;
    if (code === 0) ok++;
    else {
      failed++;
      if (!force) break;
    }
  }
  out(`exec_nodes: ${ok} ok, ${failed} failed`);
  return failed ? 1 : 0;
};

export const PACKAGE_COMMANDS: Record<string, Cmd> = {
  'build_pkgs.py': buildPkgs,
  'build_pkgs_allinone.py': buildAllinone,
  'build_pkgs_allinone.sh': buildAllinone,
  'build_global_conf.sh': buildGlobalConf,
  'scan_all.sh': scanAll,
  'update.sh': (args) => recordedRun('update.sh', args, async () => update(args)),
  'exec_nodes.sh': execNodes,
};
