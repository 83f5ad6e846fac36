/**
 * The firstbox's view of the network for R5: `rsync` between the firstbox and a node (backups,
 * nginx/keepalived files), and `curl` against the simulated HTTP endpoints (a node's console on
 * port 80, its API on 7777, and the zone's floating IP, answered by the node keepalived gave it).
 * Anything not aimed at a simulated host goes to the machine's own curl.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { floatingIpsOn } from '../floating.js';
import { readConfig, readJson } from '../store.js';
import type { BossDb, HostState } from '../types.js';
import { CmdError, err, fb, nodeRoot, out, ROOT, readNode, SERVICES } from './ctx.js';

type Cmd = (args: string[]) => Promise<number> | number;

function hostOf(name: string): { id: string; address: string } | undefined {
  const cfg = readConfig(SERVICES);
  const h = cfg.hosts.find((x) => x.kind === 'node' && (x.id === name || x.address === name));
  if (h) return { id: h.id, address: h.address };
  const rec = fb().nodes.find((n) => n.hostname === name);
  return rec ? { id: rec.host, address: rec.mgmt_ip } : undefined;
}

/** `HOST:PATH` → the path under that node's root; a local path stays as is. */
function resolvePath(spec: string): { path: string; host?: string } {
  const m = /^([A-Za-z0-9_.-]+):(\/.*)$/.exec(spec);
  if (!m) return { path: spec };
  const h = hostOf(m[1]!);
  if (!h) throw new CmdError(`ssh: Could not resolve hostname ${m[1]}: Name or service not known`, 255);
  if (readNode(h.id).power !== 'on')
    throw new CmdError(`ssh: connect to host ${h.address} port 22: Connection refused`, 255);
  return { path: join(nodeRoot(h.id), m[2]!), host: h.id };
}

/** Expands a `*` in the last path component, as the remote shell would. */
function expand(path: string): string[] {
  const name = basename(path);
  if (!name.includes('*')) return existsSync(path) ? [path] : [];
  const dir = dirname(path);
  if (!existsSync(dir)) return [];
  const re = new RegExp(`^${name.replace(/[.+^${}()|[\]\\?]/g, '\\$&').replace(/\*/g, '.*')}$`);
  return readdirSync(dir)
    .filter((e) => re.test(e))
    .map((e) => join(dir, e));
}

const rsync: Cmd = (args) => {
  const pos = args.filter((a) => !a.startsWith('-'));
  if (pos.length < 2) throw new CmdError('usage: rsync [OPTION...] SRC... DEST', 1);
  const dest = pos.pop()!;
  const d = resolvePath(dest);
  const sources = pos.flatMap((s) => {
    const r = resolvePath(s);
    const found = expand(r.path);
    if (!found.length) {
      err(`rsync: link_stat "${s}" failed: No such file or directory (2)`);
      throw new CmdError('rsync error: some files/attrs were not transferred (code 23)', 23);
    }
    return found;
  });
  const intoDir = dest.endsWith('/') || (existsSync(d.path) && statSync(d.path).isDirectory());
  if (intoDir) mkdirSync(d.path, { recursive: true });
  else mkdirSync(dirname(d.path), { recursive: true });
  for (const src of sources) {
    const target = intoDir ? join(d.path, basename(src)) : d.path;
    cpSync(src, target, { recursive: true, force: true });
    out(basename(src));
  }
  out(`sent ${sources.length} file(s)`);
  return 0;
};

/** Floating IPs recorded on this firstbox: address → zone (R5 preparation). */
const floatingIps = () => floatingIpsOn(ROOT, fb());

function running(h: HostState, program: string): boolean {
  return h.supervisor.programs[program]?.state === 'RUNNING';
}

/** What the simulated endpoint answers: an HTTP status, or a connection failure. */
function answer(h: HostState, port: number, vhost?: string): { status: number; body: string } | 'refused' {
  if (h.power !== 'on') return 'refused';
  if (port === 80 || port === 443) {
    if (h.services.nginx !== 'running') return 'refused';
    // The BOSS V2 console (boss.DOMAIN, seed 002 line 116) is served by the proxies once deployed.
    if (vhost?.startsWith('boss.'))
      return h.roles.includes('proxy') && readJson<BossDb>(join(SERVICES, 'boss.json')).v2Deployed
        ? { status: 200, body: '<html><title>BOSS</title></html>\n' }
        : { status: 404, body: '<html>404 Not Found</html>\n' };
    return running(h, 'console_server')
      ? { status: 200, body: '<html><title>QingCloud console</title></html>\n' }
      : { status: 502, body: '<html>502 Bad Gateway</html>\n' };
  }
  if (port === 7777) {
    return running(h, 'api_server') || running(h, 'ws_server')
      ? { status: 200, body: '{"ret_code":0,"message":"ok"}\n' }
      : 'refused';
  }
  return 'refused';
}

const curl: Cmd = async (args) => {
  const url = args.find((a) => /^https?:\/\//.test(a));
  const m = url ? /^https?:\/\/([^/:]+)(?::(\d+))?/.exec(url) : null;
  const target = m ? m[1]! : '';
  const port = Number(m?.[2] ?? (url?.startsWith('https') ? 443 : 80));
  const direct = target ? hostOf(target) : undefined;
  const vipZone = target && !direct ? floatingIps().get(target) : undefined;
  if (!direct && !vipZone) {
    // Not a simulated endpoint: the machine's curl.
    const child = spawn('/usr/bin/curl', args, { stdio: 'inherit' });
    return new Promise((r) => child.on('exit', (c) => r(c ?? 1)));
  }
  let h: HostState | undefined;
  if (direct) h = readNode(direct.id);
  else {
    const holder = fb().vip[vipZone!];
    const rec = fb().nodes.find((n) => n.node_id === holder);
    const node = rec ? readNode(rec.host) : undefined;
    h = node && node.services.keepalived === 'running' ? node : undefined;
  }
  const fail = args.some((a) => /^-[a-zA-Z]*f/.test(a) && !a.startsWith('--'));
  const silent = args.some((a) => /^-[a-zA-Z]*s/.test(a) && !a.startsWith('--'));
  const hi = args.indexOf('-H');
  const vhost = hi >= 0 ? /^Host:\s*(\S+)$/i.exec(args[hi + 1] ?? '')?.[1] : undefined;
  const res = h ? answer(h, port, vhost) : 'refused';
  // `-w '%{http_code}'` (the health gate reads only the status): 000 when nothing answered.
  const wi = args.indexOf('-w');
  const writeOut = (code: number) => {
    if (wi >= 0) out(args[wi + 1]!.replaceAll('%{http_code}', String(code).padStart(3, '0')));
  };
  if (res === 'refused') {
    writeOut(0);
    if (!silent || args.some((a) => /^-[a-zA-Z]*S/.test(a)))
      err(`curl: (7) Failed to connect to ${target} port ${port}: Connection refused`);
    return 7;
  }
  if (res.status >= 400 && fail) {
    err(`curl: (22) The requested URL returned error: ${res.status}`);
    return 22;
  }
  const oi = args.indexOf('-o');
  const file = oi >= 0 ? args[oi + 1] : undefined;
  if (file && file !== '/dev/null') writeFileSync(file, res.body);
  else if (!file) out(res.body);
  writeOut(res.status);
  return 0;
};

/** `nc -z [-w N] HOST PORT` against a simulated host or VIP: 0 when it would accept, else 1. */
const nc: Cmd = async (args) => {
  const words = args.filter((a, i) => !a.startsWith('-') && args[i - 1] !== '-w');
  const [target = '', portText = ''] = words;
  const port = Number(portText);
  const direct = hostOf(target);
  const vipZone = !direct ? floatingIps().get(target) : undefined;
  if (!direct && !vipZone) {
    if (!existsSync('/usr/bin/nc')) {
      err('nc: command not found');
      return 127;
    }
    const child = spawn('/usr/bin/nc', args, { stdio: 'inherit' });
    return new Promise((r) => child.on('exit', (c) => r(c ?? 1)));
  }
  let h: HostState | undefined;
  if (direct) h = readNode(direct.id);
  else {
    const rec = fb().nodes.find((x) => x.node_id === fb().vip[vipZone!]);
    const node = rec ? readNode(rec.host) : undefined;
    h = node && node.services.keepalived === 'running' ? node : undefined;
  }
  return h && answer(h, port) !== 'refused' ? 0 : 1;
};

export const NET_COMMANDS: Record<string, Cmd> = { rsync, curl, nc };
