/** R4 steps 5–11: settings validation, scale-out jobs, hyper mirror, VBC return routes. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { programsOf, ROLE_PACKAGES, ROLE_SERVICES, SCALABLE_ROLES } from '../catalog.js';
import { nodeSettings, serverYaml } from '../templates.js';
import type { FirstboxData, NodeRecord, ZoneRecord } from '../types.js';
import {
  CmdError,
  fb,
  getopt,
  nodeRoot,
  out,
  ROOT,
  readList,
  readNode,
  sleep,
  str,
  updateFb,
  updateNode,
} from './ctx.js';
import { recordedRun, runJob } from './jobs.js';
import { startProgram, writeProgramConf } from './node.js';

type Cmd = (args: string[]) => Promise<number> | number;

interface ScaleSettings {
  zone_id?: string;
  nodes?: Record<string, string[] | null>;
  eips?: Record<string, string[]> | null;
  vbc?: { mgmt_ips?: string[]; ipv4_vbc?: string; ipv4_vip?: string } | null;
}

interface Variables {
  zone_id?: string;
  region_id?: string;
  is_global_zone?: number;
  cloud_type?: string;
  mode?: ZoneRecord['mode'];
}

function readYaml<T>(file: string): T {
  const candidates = isAbsolute(file)
    ? [file]
    : [join(process.cwd(), file), join(ROOT, 'pitrix/config', file)];
  const path = candidates.find((p) => existsSync(p));
  if (!path) throw new CmdError(`cannot open ${file}`, 2);
  try {
    return (parse(readFileSync(path, 'utf8')) ?? {}) as T;
  } catch (e) {
    throw new CmdError(`${file}: invalid YAML: ${(e as Error).message.split('\n')[0]}`, 2);
  }
}

/** Pending new zones (config-qingcloud.py -v) live beside the settings until scale-qingcloud-zone.py. */
const PENDING = (zone: string) => join(ROOT, 'pitrix/conf/settings', `.pending-zone.${zone}.json`);

function validate(
  f: FirstboxData,
  s: ScaleSettings,
  vars: Variables | undefined,
): { zone: string; assign: { ip: string; role: string }[]; mode: string } {
  const zone = s.zone_id ?? vars?.zone_id;
  if (!zone) throw new CmdError('settings: zone_id is missing', 2);
  const known = f.zones.find((z) => z.zone_id === zone);
  if (vars) {
    if (vars.zone_id !== zone)
      throw new CmdError(`variables zone_id ${vars.zone_id} does not match settings zone_id ${zone}`, 2);
    if (vars.is_global_zone !== 0)
      throw new CmdError('variables: a new zone in a region must have is_global_zone: 0', 2);
    if (vars.cloud_type === 'public') throw new CmdError("variables: cloud_type must never be 'public'", 2);
    if (!vars.region_id) throw new CmdError('variables: region_id is missing', 2);
  } else if (!known)
    throw new CmdError(`zone ${zone} does not exist; a new zone needs -v variables.${zone}.yaml`, 2);
  const mode = known?.mode ?? vars?.mode ?? 'standard';
  const assign: { ip: string; role: string }[] = [];
  // A new zone (-v) places every role of a zone (settings.ZONE_ID.yaml); a scale-out only the scalable ones.
  const allowed = vars ? Object.keys(ROLE_PACKAGES).filter((r) => r !== 'boss') : SCALABLE_ROLES;
  for (const [role, ips] of Object.entries(s.nodes ?? {})) {
    if (!ips?.length) continue;
    if (!allowed.includes(role))
      throw new CmdError(
        `role ${role} cannot be ${vars ? 'placed' : 'scaled'}; only ${allowed.join(', ')}`,
        2,
      );
    for (const ip of ips) {
      const r = f.nodes.find((n) => n.mgmt_ip === ip);
      if (!r) throw new CmdError(`node ${ip} is not in the node list`, 2);
      if (r.status !== 'available' && r.status !== 'deployed')
        throw new CmdError(`node ${ip} is ${r.status}; collect it first`, 2);
      assign.push({ ip, role });
    }
  }
  if (!assign.length) throw new CmdError('settings: no nodes to scale', 2);
  const hypers = assign.filter((a) => a.role === 'hyper').length;
  if (mode === 'standard' && hypers % 2 !== 0)
    throw new CmdError(`standard mode adds hyper nodes in pairs; got ${hypers}`, 2);
  for (const a of assign.filter((x) => x.role === 'vg')) {
    if (!s.eips?.[a.ip]?.length)
      throw new CmdError(`VG node ${a.ip} needs eips keyed by its management address`, 2);
  }
  if (s.vbc) {
    const { mgmt_ips = [], ipv4_vip, ipv4_vbc } = s.vbc;
    if (!ipv4_vbc || !ipv4_vip) throw new CmdError('vbc: ipv4_vbc and ipv4_vip are required', 2);
    // `VIP|MASTER`: the VBC's external management address and its Master node (003 §2.2).
    const [vip, master, ...more] = String(ipv4_vip).split('|');
    if (!vip || !master || more.length) throw new CmdError(`vbc: ipv4_vip ${ipv4_vip} must be VIP|MASTER`, 2);
    if (!mgmt_ips.includes(master))
      throw new CmdError(`vbc: the Master node ${master} of ipv4_vip must be one of mgmt_ips`, 2);
  }
  return { zone, assign, mode };
}

const configQingcloud: Cmd = async (args) => {
  const { opts } = getopt(args, ['-s', '-v']);
  const sFile = str(opts['-s']);
  if (!sFile) throw new CmdError('usage: config-qingcloud.py [-v VARIABLES] -s SETTINGS [-f]', 2);
  const settings = readYaml<ScaleSettings>(sFile);
  const vFile = str(opts['-v']);
  // The template's sections (common, base, advance) hold the keys; flat files are read as well.
  const raw = vFile ? readYaml<Record<string, unknown>>(vFile) : undefined;
  const section = (k: string) => (raw?.[k] && typeof raw[k] === 'object' ? (raw[k] as object) : {});
  const vars = raw
    ? ({ ...raw, ...section('common'), ...section('base'), ...section('advance') } as Variables)
    : undefined;
  let plan: ReturnType<typeof validate> | undefined;
  return runJob('config-qingcloud', settings.zone_id, [
    {
      desc: 'validate settings',
      ms: 250,
      run: () => {
        plan = validate(fb(), settings, vars);
      },
    },
    { desc: 'allocate addresses and VBC', ms: 400 },
    { desc: 'render node configuration', ms: 400 },
    {
      desc: 'save configuration',
      ms: 200,
      run: () => {
        const p = plan!;
        updateFb((f) => {
          f.configured[p.zone] = [
            ...(f.configured[p.zone] ?? []).filter((c) => !p.assign.some((a) => a.ip === c.ip)),
            ...p.assign,
          ];
          for (const ip of new Set(p.assign.map((a) => a.ip))) {
            const r = f.nodes.find((n) => n.mgmt_ip === ip)!;
            // A machine of a new zone may carry several roles (webservice + zoocassa ...).
            if (r.status !== 'deployed') r.roles = p.assign.filter((a) => a.ip === ip).map((a) => a.role);
            r.zone_id = p.zone;
          }
        });
        if (vars) writeFileSync(PENDING(p.zone), JSON.stringify({ vars, mode: p.mode }));
        writeFileSync(
          join(ROOT, 'pitrix/conf/settings', `scale_settings.${p.zone}.yaml`),
          readFileSync(
            isAbsolute(sFile) ? sFile : existsSync(sFile) ? sFile : join(ROOT, 'pitrix/config', sFile),
          ),
        );
      },
    },
  ]);
};

/** The haproxy.cfg the installer leaves on a proxy (the zone's own frontends). */
const HAPROXY_BASE = `global
    log /dev/log local0
    maxconn 20000
    daemon

defaults
    log global
    timeout connect 5s
    timeout client 60s
    timeout server 60s

listen proxy-front
    bind 0.0.0.0:7778
    mode tcp
    server proxy_server_0 127.0.0.1:7779 check
`;

function deployNodes(
  zone: string,
  recs: NodeRecord[],
  f: FirstboxData,
  phase: 'base' | 'services' | 'register',
): void {
  for (const r of recs) {
    const root = nodeRoot(r.host);
    updateNode(r.host, (h) => {
      if (phase === 'base') {
        h.packages['pitrix-node-base'] = f.repo['pitrix-node-base']?.at(-1) ?? `${f.installerVersion}-1`;
        h.supervisor.installed = true;
      } else if (phase === 'services') {
        for (const role of r.roles) {
          // Init services (haproxy on a proxy ...) come with the role; R4's new-zone proxies need
          // the installer's haproxy.cfg to add the region listeners to.
          for (const svc of ROLE_SERVICES[role] ?? []) h.services[svc] = 'running';
          if (role === 'proxy' && !existsSync(join(root, 'etc/haproxy/haproxy.cfg'))) {
            mkdirSync(join(root, 'etc/haproxy'), { recursive: true });
            writeFileSync(join(root, 'etc/haproxy/haproxy.cfg'), HAPROXY_BASE);
          }
          for (const pkg of ROLE_PACKAGES[role] ?? []) {
            h.packages[pkg] = f.repo[pkg]?.at(-1) ?? `${f.installerVersion}-1`;
            mkdirSync(join(root, 'etc/supervisor/conf.d'), { recursive: true });
            for (const p of programsOf(pkg)) {
              writeProgramConf(root, p, true);
              startProgram(h, p);
            }
          }
        }
      } else {
        h.spare = false;
        h.zone = zone;
        h.roles = [...r.roles];
      }
    });
    if (phase === 'register')
      writeFileSync(join(ROOT, 'pitrix/conf/settings', r.node_id), nodeSettings(readNode(r.host)));
  }
}

async function scale(kind: 'scale-qingcloud' | 'scale-qingcloud-zone', args: string[]): Promise<number> {
  const { opts } = getopt(args, ['-z', '-I']);
  const zone = str(opts['-z']);
  const list = str(opts['-I']);
  if (!zone || !list) throw new CmdError(`usage: ${kind}.py -z ZONE_ID -I NODE_LIST_FILE`, 2);
  const ips = readList(list);
  let recs: NodeRecord[] = [];
  let jobId = '';
  const rc = await runJob(kind, zone, [
    {
      desc: `check ${ips.length} node(s) of zone ${zone}`,
      ms: 400,
      run: () => {
        const f = fb();
        const pending = existsSync(PENDING(zone));
        if (kind === 'scale-qingcloud' && !f.zones.some((z) => z.zone_id === zone))
          throw new CmdError(`zone ${zone} does not exist`, 2);
        if (kind === 'scale-qingcloud-zone' && !pending && !f.zones.some((z) => z.zone_id === zone)) {
          throw new CmdError(
            `zone ${zone} is not configured; run config-qingcloud.py -v variables.${zone}.yaml -s settings.${zone}.yaml`,
            2,
          );
        }
        recs = ips.map((ip) => {
          const r = f.nodes.find((n) => n.mgmt_ip === ip);
          if (!r) throw new CmdError(`node ${ip} is not in the node list`, 2);
          if (r.status === 'deployed') throw new CmdError(`node ${r.node_id} (${ip}) is already deployed`, 2);
          if (r.status !== 'available')
            throw new CmdError(`node ${r.node_id} (${ip}) is ${r.status}, not available`, 2);
          if (!(f.configured[zone] ?? []).some((c) => c.ip === ip))
            throw new CmdError(`node ${ip} is not configured for zone ${zone}; run config-qingcloud.py`, 2);
          if (readNode(r.host).power !== 'on')
            throw new CmdError(`ssh: connect to host ${ip} port 22: Connection refused`, 1);
          return r;
        });
        jobId =
          Object.values(f.jobs).find(
            (j) => j.kind === kind && j.pid === process.pid && j.status === 'running',
          )?.id ?? '';
      },
    },
    { desc: 'install base packages', ms: 500, run: () => deployNodes(zone, recs, fb(), 'base') },
    { desc: 'configure network and VBC', ms: 500 },
    { desc: 'deploy role services', ms: 700, run: () => deployNodes(zone, recs, fb(), 'services') },
    {
      desc: 'register nodes',
      ms: 400,
      run: () => {
        deployNodes(zone, recs, fb(), 'register');
        updateFb((f) => {
          if (kind === 'scale-qingcloud-zone' && !f.zones.some((z) => z.zone_id === zone)) {
            const p = JSON.parse(readFileSync(PENDING(zone), 'utf8')) as {
              vars: Variables;
              mode: ZoneRecord['mode'];
            };
            const rec: ZoneRecord = {
              zone_id: zone,
              region_id: p.vars.region_id ?? zone,
              is_global_zone: 0,
              mode: p.vars.mode ?? p.mode,
              status: 'active',
            };
            f.zones.push(rec);
            const g = f.zones.find((z) => z.is_global_zone === 1)?.zone_id ?? zone;
            writeFileSync(
              join(ROOT, `pitrix/conf/variables/global/server.yaml.${zone}`),
              serverYaml(rec, { domain: f.domain, proxyVip: '', globalZone: g, qemu: '2.5.0' }),
            );
          }
          for (const r of recs) {
            const x = f.nodes.find((n) => n.node_id === r.node_id)!;
            x.status = 'deployed';
            x.zone_id = zone;
          }
        });
      },
    },
    {
      desc: 'verify services',
      ms: 400,
      run: () => {
        const hypers = recs.filter((r) => r.roles.includes('hyper'));
        const routes = hypers.map((r, i) => vbcRoute(r, i)).join('');
        mkdirSync(join(ROOT, 'pitrix/log/deploy'), { recursive: true });
        writeFileSync(join(ROOT, 'pitrix/log/deploy', `vbc_route_${jobId}`), routes);
      },
    },
  ]);
  return rc;
}

function vbcRoute(r: NodeRecord, i: number): string {
  const seed = Number(r.mgmt_ip.split('.').pop() ?? i);
  return `ip route add 10.${100 + (seed % 100)}.0.0/16 via ${r.mgmt_ip}  # ${r.node_id}\n`;
}

const updateHyperMirror: Cmd = async (args) => {
  const { opts } = getopt(args, ['-n']);
  const role = str(opts['-n']) ?? 'hyper';
  const f = fb();
  const nodes = f.nodes.filter((n) => n.roles.includes(role) && n.status === 'deployed');
  for (const n of nodes) {
    // Long enough per node (unscaled 0.8 s) that an operator killed mid-run lands inside it.
    await sleep(800);
    updateNode(n.host, (h) => {
      if (h.supervisor.programs.compute_server) startProgram(h, 'compute_server');
    });
    out(`update_hyper_mirror: ${n.node_id} (${n.mgmt_ip}) mirror updated, compute_server restarted`);
  }
  out(`update_hyper_mirror: ${nodes.length} node(s) done`);
  return 0;
};

const dumpVbcRoute: Cmd = (args) => {
  const role = args[0] ?? 'hyper';
  const f = fb();
  const nodes = f.nodes.filter((n) => n.roles.includes(role) && n.status === 'deployed');
  out(nodes.map((n, i) => vbcRoute(n, i)).join(''));
  return 0;
};

export const SCALE_COMMANDS: Record<string, Cmd> = {
  'config-qingcloud.py': configQingcloud,
  'scale-qingcloud.py': (a) => scale('scale-qingcloud', a),
  'scale-qingcloud-zone.py': (a) => scale('scale-qingcloud-zone', a),
  'update_hyper_mirror.sh': (args) =>
    recordedRun('update_hyper_mirror.sh', args, async () => updateHyperMirror(args)),
  'dump_vbc_route.sh': dumpVbcRoute,
};
