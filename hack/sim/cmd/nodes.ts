/** R4 steps 1–4 on the firstbox: the installer's node list, key access, hardware collection, fixes. */
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeListText } from '../layout.js';
import { effectiveFacts, recordOf } from '../render.js';
import { parseSettings } from '../settings.js';
import { HOST_KEY_FILE, readConfig } from '../store.js';
import type { FirstboxData, NodeRecord } from '../types.js';
import {
  CmdError,
  faultsOf,
  fb,
  getopt,
  nodeRoot,
  out,
  ROOT,
  readList,
  readNode,
  SERVICES,
  str,
  updateFb,
  updateNode,
} from './ctx.js';
import { runJob } from './jobs.js';

type Cmd = (args: string[]) => Promise<number> | number;

function hostByAddress(ip: string): string | undefined {
  return readConfig(SERVICES).hosts.find((h) => h.address === ip && h.kind === 'node')?.id;
}

function recordByIp(f: FirstboxData, ip: string): NodeRecord {
  const r = f.nodes.find((n) => n.mgmt_ip === ip || n.node_id === ip);
  if (!r) throw new CmdError(`node ${ip} is not in the node list; add it with add-nodes.py first`, 1);
  return r;
}

/**
 * The installer's first contact with a machine records its host key in the firstbox's
 * known_hosts (modelled assumption, docs/platform-interface.md): from then on the firstbox's
 * strict ssh reaches it. A key already recorded for the address is left as it is.
 */
function learnHostKeys(ids: string[]): void {
  const file = join(ROOT, 'root/.ssh/known_hosts');
  let known = '';
  try {
    known = readFileSync(file, 'utf8');
  } catch {
    // none yet
  }
  const names = new Set(known.split('\n').map((l) => l.split(' ')[0]));
  const add = ids
    .map((id) => readFileSync(join(nodeRoot(id), HOST_KEY_FILE), 'utf8').trim())
    .filter((l) => l && !names.has(l.split(' ')[0]));
  if (add.length) appendFileSync(file, `${add.join('\n')}\n`);
}

const addNodes: Cmd = (args) => {
  const { opts } = getopt(args, ['-I', '-z']);
  const list = str(opts['-I']);
  if (!list) throw new CmdError('usage: add-nodes.py -I NODE_LIST_FILE [-z ZONE_ID]', 2);
  const ips = readList(list);
  const hosts = ips.map((ip) => {
    const id = hostByAddress(ip);
    if (!id) throw new CmdError(`ssh: connect to host ${ip} port 22: No route to host`, 1);
    return [ip, id] as const;
  });
  const lines = updateFb((f) => {
    const zone = str(opts['-z']) ?? f.zones.find((z) => z.is_global_zone)?.zone_id ?? f.zones[0]!.zone_id;
    return hosts.map(([ip, id]) => {
      const have = f.nodes.find((n) => n.mgmt_ip === ip);
      if (have) return `node ${ip} already added as ${have.node_id} (status ${have.status})`;
      const h = readNode(id);
      f.nodes.push({
        ...recordOf({ ...h, zone, roles: [] }, 'new'),
        cpu_cores: 0,
        memory_mb: 0,
        os_name: '',
        os_version: '',
        arch: '',
        disks: [],
      });
      return `node ${ip} added as ${id} (status new)`;
    });
  });
  learnHostKeys(hosts.map(([, id]) => id));
  out(lines.join('\n'));
  out(`add-nodes: ${hosts.length} node(s) processed`);
  return 0;
};

function publicRecord(f: FirstboxData, n: NodeRecord): Record<string, unknown> {
  const { host: _host, ...rest } = n;
  return { ...rest, vip: f.vip[n.zone_id] === n.node_id };
}

const describeNodes: Cmd = (args) => {
  const { opts } = getopt(args, ['-s', '-f', '-z', '-n']);
  const status = str(opts['-s']) ?? 'all';
  const f = fb();
  const zone = str(opts['-z']);
  const nodeIds = str(opts['-n'])?.split(',');
  const set = f.nodes.filter(
    (n) =>
      (status === 'all' || n.status === status) &&
      (!zone || n.zone_id === zone) &&
      (!nodeIds || nodeIds.includes(n.node_id)),
  );
  if (str(opts['-f']) === 'json') {
    out(
      JSON.stringify({
        action: 'DescribeNodesResponse',
        ret_code: 0,
        total_count: set.length,
        node_set: set.map((n) => publicRecord(f, n)),
      }),
    );
    return 0;
  }
  out(
    `${'NODE_ID'.padEnd(14)}${'MGMT_IP'.padEnd(16)}${'ZONE'.padEnd(10)}${'ROLES'.padEnd(18)}${'STATUS'.padEnd(11)}CPU  MEM(MB)  OS`,
  );
  for (const n of set) {
    out(
      `${n.node_id.padEnd(14)}${n.mgmt_ip.padEnd(16)}${n.zone_id.padEnd(10)}${n.roles.join(',').padEnd(18)}${n.status.padEnd(11)}${String(n.cpu_cores).padEnd(5)}${String(n.memory_mb).padEnd(9)}${n.os_name} ${n.os_version}`,
    );
  }
  out(`total: ${set.length}`);
  return 0;
};

const describeZones: Cmd = () => {
  const f = fb();
  out(
    JSON.stringify({
      action: 'DescribeZonesResponse',
      ret_code: 0,
      total_count: f.zones.length,
      zone_set: f.zones,
    }),
  );
  return 0;
};

const establishSsh: Cmd = (args) => {
  const [list, port, user, password] = args;
  if (!list || !port || !user || password === undefined)
    throw new CmdError('usage: establish_ssh.sh NODE_LIST_FILE SSH_PORT USER PASSWD', 2);
  let failed = 0;
  for (const ip of readList(list)) {
    const id = hostByAddress(ip);
    if (!id) {
      out(`${ip}: ssh: connect to host ${ip} port ${port}: No route to host`);
      failed++;
      continue;
    }
    const c = readNode(id).credentials;
    if (c.user !== user || c.password !== password) {
      out(`${ip}: ${user}@${ip}: Permission denied (publickey,password).`);
      failed++;
      continue;
    }
    updateFb((f) => {
      if (!f.sshEstablished.includes(ip)) f.sshEstablished.push(ip);
    });
    out(`${ip}: key access established for root`);
  }
  out(`establish_ssh: ${failed ? `${failed} failed` : 'done'}`);
  return failed ? 1 : 0;
};

const collectNodes: Cmd = async (args) => {
  const { opts } = getopt(args, ['-I']);
  const list = str(opts['-I']);
  if (!list) throw new CmdError('usage: collect-nodes.py -I NODE_LIST_FILE', 2);
  const ips = readList(list);
  const problems: string[] = [];
  return runJob('collect-nodes', undefined, [
    {
      desc: `check ${ips.length} node(s)`,
      ms: 200,
      run: () => {
        const f = fb();
        for (const ip of ips) {
          const r = recordByIp(f, ip);
          if (r.status === 'deployed')
            throw new CmdError(
              `node ${r.node_id} (${ip}) is deployed; its facts cannot be collected again`,
              1,
            );
        }
      },
    },
    {
      desc: 'connect to nodes',
      ms: 300,
      run: () => {
        const f = fb();
        for (const ip of ips) {
          const r = recordByIp(f, ip);
          const h = readNode(r.host);
          if (h.power !== 'on')
            problems.push(`${ip}: ssh: connect to host ${ip} port 22: Connection refused`);
          else if (!h.credentials.isDefault && !f.sshEstablished.includes(ip)) {
            problems.push(
              `${ip}: Permission denied (publickey,password); non-default credentials: run establish_ssh.sh first`,
            );
          }
        }
      },
    },
    { desc: 'collect hardware information', ms: 600 },
    {
      desc: 'save node facts',
      ms: 200,
      run: () => {
        updateFb((f) => {
          for (const ip of ips) {
            if (problems.some((p) => p.startsWith(`${ip}:`))) continue;
            const r = recordByIp(f, ip);
            const h = readNode(r.host);
            const dirty = h.facts.disks.find((d) => d.dirty);
            if (dirty) {
              problems.push(
                `${ip}: data disk ${dirty.name} has partitions or data; erase it with /pitrix/bin/erase_data_disks.sh`,
              );
              continue;
            }
            const facts = effectiveFacts(h, faultsOf(nodeRoot(r.host)));
            const fresh = recordOf({ ...h, facts, zone: r.zone_id, roles: r.roles }, 'available');
            Object.assign(r, { ...fresh, node_id: r.node_id, roles: r.roles });
          }
        });
        if (problems.length) throw new CmdError(problems.join('; '), 1);
      },
    },
  ]);
};

const modifyNode: Cmd = (args) => {
  const { opts } = getopt(args, ['-i', '-d', '-s', '-t', '-S']);
  const ip = str(opts['-i']);
  const dev = str(opts['-d']);
  if (!ip || !dev)
    throw new CmdError(
      'usage: modify-node-attributes.py -i IP -d DEVICE [-s 0|1] [-t ssd|sata|nvme] [-S SIZE_GIB]',
      2,
    );
  const msg = updateFb((f) => {
    const r = recordByIp(f, ip);
    if (r.status === 'deployed')
      throw new CmdError(`node ${r.node_id} is deployed; its attributes cannot be modified`, 1);
    const d = r.disks.find((x) => x.device === dev);
    if (!d) throw new CmdError(`node ${r.node_id} has no collected disk ${dev}`, 1);
    const s = str(opts['-s']);
    const t = str(opts['-t']);
    const size = str(opts['-S']);
    if (s !== undefined) d.enabled = s === '0' ? 0 : 1;
    if (t !== undefined) {
      if (t !== 'ssd' && t !== 'sata' && t !== 'nvme') throw new CmdError(`invalid disk type ${t}`, 2);
      d.type = t;
    }
    if (size !== undefined) d.size_gib = Number.parseInt(size, 10);
    return `modified node ${r.node_id} (${ip}) disk ${dev}: type=${d.type} size_gib=${d.size_gib} enabled=${d.enabled}`;
  });
  out(msg);
  return 0;
};

const eraseDisks: Cmd = (args) => {
  const { opts } = getopt(args, ['-i', '-d']);
  const list = str(opts['-i']);
  const dev = str(opts['-d']);
  if (!list || !dev) throw new CmdError('usage: erase_data_disks.sh -i NODE_LIST_FILE -d DEVICE', 2);
  const f = fb();
  for (const ip of readList(list)) {
    const r = recordByIp(f, ip);
    if (r.status === 'deployed')
      throw new CmdError(`refusing to erase ${dev} on deployed node ${r.node_id}`, 1);
    updateNode(r.host, (h) => {
      const d = h.facts.disks.find((x) => x.name === dev);
      if (!d) throw new CmdError(`${ip}: no such device /dev/${dev}`, 1);
      if (h.facts.disks.indexOf(d) === 0) throw new CmdError(`${ip}: /dev/${dev} is the system disk`, 1);
      delete d.dirty;
    });
    out(`${ip}: wiping /dev/${dev} ... done`);
  }
  return 0;
};

const genNodeList: Cmd = () => {
  const dir = join(ROOT, 'pitrix/conf/settings');
  const n = updateFb((f) => {
    for (const file of readdirSync(dir)) {
      const r = f.nodes.find((x) => x.node_id === file);
      if (!r) continue;
      const s = parseSettings(readFileSync(join(dir, file), 'utf8'), `/pitrix/conf/settings/${file}`);
      if (s?.role) r.roles = String(s.role).split(',');
      if (s?.hostname) r.hostname = s.hostname;
    }
    writeFileSync(join(ROOT, 'pitrix/conf/node_list'), nodeListText(f.nodes));
    return f.nodes.length;
  });
  out(`generated /pitrix/conf/node_list: ${n} nodes`);
  return 0;
};

export const NODE_LIST_COMMANDS: Record<string, Cmd> = {
  'add-nodes.py': addNodes,
  'describe-nodes.py': describeNodes,
  'describe-zones.py': describeZones,
  'establish_ssh.sh': establishSsh,
  'collect-nodes.py': collectNodes,
  'modify-node-attributes.py': modifyNode,
  'erase_data_disks.sh': eraseDisks,
  'gen_node_list.py': genNodeList,
  'gen_node_list.sh': genNodeList,
};
