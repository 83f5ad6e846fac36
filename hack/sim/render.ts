/**
 * What the fact commands print for a host, rendered from its state (plus a `wrongFacts` fault).
 * Shared by the shims inside sshd hosts and by the in-process SSH server, so both answer the
 * node probe of docs/platform-interface.md identically.
 */
import type { Facts, Fault, HostState, NodeRecord } from './types.js';

const CODENAMES: Record<string, string> = {
  '12.04': 'precise',
  '14.04': 'trusty',
  '16.04': 'xenial',
  '18.04': 'bionic',
  '20.04': 'focal',
  '22.04': 'jammy',
};

export function codenameOf(version: string): string {
  return CODENAMES[version.split('.').slice(0, 2).join('.')] ?? 'unknown';
}

export function effectiveFacts(s: HostState, faults: Fault[] = []): Facts {
  let f = s.facts;
  for (const fault of faults) {
    if (fault.kind !== 'wrongFacts' || !fault.facts) continue;
    const { os, ...rest } = fault.facts;
    f = { ...f, ...rest, os: { ...f.os, ...os } };
  }
  return f;
}

function majorMinor(version: string): number {
  const [a = '0', b = '0'] = version.split('.');
  return Number(a) + Number(b) / 100;
}

export function lsbDescription(f: Facts): string {
  return `${f.os.name} ${f.os.version} LTS`;
}

export function osRelease(f: Facts): string {
  const mm = f.os.version.split('.').slice(0, 2).join('.');
  const cn = f.os.codename || codenameOf(f.os.version);
  const pretty = `${f.os.name} ${f.os.version} LTS`;
  return [
    `NAME="${f.os.name}"`,
    `VERSION="${f.os.version} LTS, ${cn[0]?.toUpperCase()}${cn.slice(1)}"`,
    `ID=${f.os.name.toLowerCase()}`,
    'ID_LIKE=debian',
    `PRETTY_NAME="${pretty}"`,
    `VERSION_ID="${mm}"`,
    'HOME_URL="http://www.ubuntu.com/"',
    'SUPPORT_URL="http://help.ubuntu.com/"',
    'BUG_REPORT_URL="http://bugs.launchpad.net/ubuntu/"',
    `VERSION_CODENAME=${cn}`,
    `UBUNTU_CODENAME=${cn}`,
    '',
  ].join('\n');
}

export function lsbRelease(f: Facts): string {
  return `DISTRIB_ID=${f.os.name}\nDISTRIB_RELEASE=${f.os.version.split('.').slice(0, 2).join('.')}\nDISTRIB_CODENAME=${f.os.codename}\nDISTRIB_DESCRIPTION="${lsbDescription(f)}"\n`;
}

export function meminfo(f: Facts): string {
  const total = f.memoryKb;
  const free = Math.floor(total * 0.62);
  const rows: [string, number][] = [
    ['MemTotal', total],
    ['MemFree', free],
    ['MemAvailable', Math.floor(total * 0.81)],
    ['Buffers', Math.floor(total * 0.02)],
    ['Cached', Math.floor(total * 0.17)],
    ['SwapCached', 0],
    ['Active', Math.floor(total * 0.21)],
    ['Inactive', Math.floor(total * 0.09)],
    ['SwapTotal', 8388604],
    ['SwapFree', 8388604],
    ['Dirty', 120],
    ['Shmem', 9876],
    ['Slab', Math.floor(total * 0.01)],
    ['PageTables', 23456],
    ['CommitLimit', Math.floor(total / 2) + 8388604],
    ['VmallocTotal', 34359738367],
    ['HugePages_Total', 0],
    ['Hugepagesize', 2048],
  ];
  return rows
    .map(([k, v]) => {
      const label = `${k}:`.padEnd(16);
      return k.startsWith('HugePages_')
        ? `${label}${String(v).padStart(8)}`
        : `${label}${String(v).padStart(8)} kB`;
    })
    .join('\n')
    .concat('\n');
}

/** util-linux < 2.27 (Ubuntu 14.04) has no JSON output at all. */
export function lsblkHasJson(f: Facts): boolean {
  return majorMinor(f.os.version) >= 16.04;
}

function parentOf(name: string, names: string[]): string | undefined {
  return names.find((n) => n !== name && name.startsWith(n) && /^\d+$|^p\d+$/.test(name.slice(n.length)));
}

export function lsblkJson(f: Facts): string {
  // 16.04/18.04 (util-linux 2.27-2.31) print every value as a string; 20.04+ uses numbers/booleans.
  const typed = majorMinor(f.os.version) >= 20.04;
  const names = f.disks.map((d) => d.name);
  const obj = (d: Facts['disks'][number]) => ({
    name: d.name,
    type: d.type,
    size: typed ? d.sizeBytes : String(d.sizeBytes),
    rota: typed ? d.rotational : d.rotational ? '1' : '0',
    rm: typed ? d.removable : d.removable ? '1' : '0',
    tran: d.type === 'part' ? null : d.transport,
    model: d.type === 'part' ? null : d.model,
  });
  const top: Record<string, unknown>[] = [];
  const byName = new Map<string, Record<string, unknown>>();
  for (const d of f.disks) {
    const o: Record<string, unknown> = obj(d);
    byName.set(d.name, o);
    const parent = parentOf(d.name, names);
    const p = parent ? byName.get(parent) : undefined;
    if (p) {
      p.children ??= [];
      (p.children as unknown[]).push(o);
    } else top.push(o);
  }
  return `${JSON.stringify({ blockdevices: top }, null, 3)}\n`;
}

export function lsblkPairs(f: Facts): string {
  return f.disks
    .map(
      (d) =>
        `NAME="${d.name}" TYPE="${d.type}" SIZE="${d.sizeBytes}" ROTA="${d.rotational ? 1 : 0}" RM="${d.removable ? 1 : 0}" TRAN="${d.type === 'part' ? '' : (d.transport ?? '')}" MODEL="${d.type === 'part' ? '' : d.model}"`,
    )
    .join('\n')
    .concat('\n');
}

export function lsblkPlain(f: Facts): string {
  const rows = f.disks.map((d) => {
    const gib = d.sizeBytes / 2 ** 30;
    const size = gib >= 1024 ? `${(gib / 1024).toFixed(1)}T` : `${Math.round(gib)}G`;
    const name = d.type === 'part' ? `└─${d.name}` : d.name;
    return `${name.padEnd(8)} ${'8:0'.padStart(7)} ${d.removable ? 1 : 0} ${size.padStart(6)}  0 ${d.type}`;
  });
  return `NAME     MAJ:MIN RM   SIZE RO TYPE\n${rows.join('\n')}\n`;
}

/** `ip -o addr show`; `held`: addresses keepalived holds here (a VIP), on the first NIC. */
export function ipAddr(f: Facts, held: readonly string[] = []): string {
  const lines = ['1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever'];
  f.nics.forEach((n, i) => {
    for (const a of n.addresses) {
      const [ip = ''] = a.split('/');
      const brd = ip.replace(/\.\d+$/, '.255');
      lines.push(
        `${i + 2}: ${n.name}    inet ${a} brd ${brd} scope global ${n.name}\\       valid_lft forever preferred_lft forever`,
      );
    }
    if (i === 0)
      for (const a of held)
        lines.push(
          `${i + 2}: ${n.name}    inet ${a}/32 scope global secondary ${n.name}\\       valid_lft forever preferred_lft forever`,
        );
  });
  return `${lines.join('\n')}\n`;
}

export function ipLink(f: Facts): string {
  const lines = [
    '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00',
  ];
  f.nics.forEach((n, i) => {
    lines.push(
      `${i + 2}: ${n.name}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP mode DEFAULT group default qlen 1000\\    link/ether ${n.mac} brd ff:ff:ff:ff:ff:ff`,
    );
  });
  return `${lines.join('\n')}\n`;
}

export function uname(f: Facts, hostname: string, args: string[]): string {
  const flags = args.join('');
  const m: Record<string, string> = {
    s: 'Linux',
    n: hostname,
    r: f.kernel,
    v: `#${f.kernel.split('-')[1] ?? '1'}-Ubuntu SMP`,
    m: f.arch,
    p: f.arch,
    i: f.arch,
    o: 'GNU/Linux',
  };
  if (flags.includes('a')) return `${['s', 'n', 'r', 'v', 'm', 'p', 'i', 'o'].map((k) => m[k]).join(' ')}\n`;
  const keys = [...flags.replace(/-/g, '')].filter((k) => k in m);
  return `${(keys.length ? keys : ['s']).map((k) => m[k]).join(' ')}\n`;
}

export function dpkgQuery(s: HostState, format: string, patterns: string[]): string | null {
  const fmt = format.replace(/\\n/g, '\n').replace(/\\t/g, '\t');
  const globs = (patterns.length ? patterns : ['*']).map(
    (p) =>
      new RegExp(
        `^${p
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.')}$`,
      ),
  );
  const names = Object.keys(s.packages)
    .filter((n) => globs.some((g) => g.test(n)))
    .sort();
  if (!names.length) return null;
  return names
    .map((n) =>
      fmt
        .replace(/\$\{(binary:)?Package\}/g, n)
        .replace(/\$\{Version\}/g, s.packages[n] ?? '')
        .replace(/\$\{Status\}/g, 'install ok installed')
        .replace(/\$\{db:Status-Abbrev\}/g, 'ii '),
    )
    .join('');
}

function uptime(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = String(Math.floor((total % 3600) / 60)).padStart(2, '0');
  const sec = String(total % 60).padStart(2, '0');
  return d ? `${d} days, ${h}:${m}:${sec}` : `${h}:${m}:${sec}`;
}

/** `supervisorctl status [names]`: the text and supervisor 4's exit code (3 if any not running). */
export function supervisorStatus(
  s: HostState,
  names: string[] = [],
  now = Date.now(),
): { out: string; code: number } {
  const progs = s.supervisor.programs;
  const wanted = names.length && !names.includes('all') ? names : Object.keys(progs).sort();
  let code = 0;
  const lines = wanted.map((name) => {
    const p = progs[name];
    if (!p) {
      code = 4;
      return `${name}: ERROR (no such process)`;
    }
    if (p.state !== 'RUNNING') code = code || 3;
    const detail =
      p.state === 'RUNNING'
        ? `pid ${p.pid}, uptime ${uptime(now - p.startedAt)}`
        : p.state === 'FATAL'
          ? 'Exited too quickly (process log may have details)'
          : new Date(p.startedAt).toUTCString().slice(5, 25);
    return `${name.padEnd(33)}${p.state.padEnd(10)}${detail}`;
  });
  return { out: lines.length ? `${lines.join('\n')}\n` : '', code };
}

/** The installer's node-list record for a host, as collect-nodes.py would write it. */
export function recordOf(h: HostState, status: NodeRecord['status']): NodeRecord {
  const dataDisks = h.facts.disks.filter((d) => d.type === 'disk').slice(1);
  return {
    node_id: h.id,
    hostname: h.hostname,
    mgmt_ip: h.address,
    zone_id: h.zone,
    roles: [...h.roles],
    status,
    cpu_cores: h.facts.cpu,
    arch: h.facts.arch,
    memory_mb: Math.round(h.facts.memoryKb / 1024),
    os_name: h.facts.os.name,
    os_version: h.facts.os.version,
    disks: dataDisks.map((d) => ({
      device: d.name,
      type: d.transport === 'nvme' ? 'nvme' : d.rotational ? 'sata' : 'ssd',
      size_gib: Math.round(d.sizeBytes / 2 ** 30),
      enabled: 1,
    })),
    host: h.id,
  };
}
