/** Commands every simulated host answers from its own state: facts, supervisor, init services, power. */
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { programConf } from '../layout.js';
import {
  dpkgQuery,
  effectiveFacts,
  ipAddr,
  ipLink,
  lsbDescription,
  lsblkHasJson,
  lsblkJson,
  lsblkPairs,
  lsblkPlain,
  supervisorStatus,
  uname,
} from '../render.js';
import { timeline } from '../store.js';
import type { HostState } from '../types.js';
import { CmdError, ctl, err, faultsOf, out, ROOT, SERVICES, self, updateSelf } from './ctx.js';

type Cmd = (args: string[]) => Promise<number> | number;

function facts() {
  return effectiveFacts(self(), faultsOf(ROOT));
}

const lsb_release: Cmd = (args) => {
  const f = facts();
  const flags = args.join('').replace(/-/g, '');
  const short = flags.includes('s');
  const rows: [string, string, string][] = [
    ['i', 'Distributor ID', f.os.name],
    ['d', 'Description', lsbDescription(f)],
    ['r', 'Release', f.os.version.split('.').slice(0, 2).join('.')],
    ['c', 'Codename', f.os.codename],
  ];
  const wanted =
    flags.includes('a') || !/[idrc]/.test(flags) ? rows : rows.filter(([k]) => flags.includes(k));
  out(wanted.map(([, label, v]) => (short ? v : `${label}:\t${v}`)).join('\n'));
  return 0;
};

const lsblk: Cmd = (args) => {
  const f = facts();
  if (args.includes('-J') || args.includes('--json')) {
    if (!lsblkHasJson(f)) {
      err("lsblk: invalid option -- 'J'\n\nUsage:\n lsblk [options] [<device> ...]");
      return 1;
    }
    out(lsblkJson(f));
  } else if (args.includes('-P') || args.includes('--pairs')) out(lsblkPairs(f));
  else out(lsblkPlain(f));
  return 0;
};

const dpkg_query: Cmd = (args) => {
  let format = '${Package}\t${Version}\n';
  const patterns: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-f' || a === '--showformat') format = args[++i] ?? format;
    else if (a.startsWith('-f')) format = a.slice(a[2] === '=' ? 3 : 2);
    else if (a.startsWith('--showformat=')) format = a.slice(13);
    else if (a === '-W' || a === '--show') continue;
    else patterns.push(a);
  }
  const text = dpkgQuery(self(), format, patterns);
  if (text === null) {
    err(`dpkg-query: no packages found matching ${patterns.join(' ') || '*'}`);
    return 1;
  }
  out(text);
  return 0;
};

const qemu: Cmd = (args) => {
  const f = facts();
  if (!f.qemu) {
    err('sh: 1: kvm: not found');
    return 127;
  }
  if (args.includes('--version') || args.includes('-version')) out(f.qemu);
  return 0;
};

// The shim answers `ip -o addr show` from the rendered file; any other form (`ip -o -4 addr show`)
// comes here and also shows the VIP this node holds, asked of the platform (keepalived's state).
const ip: Cmd = async (args) => {
  const f = facts();
  const words = args.filter((a) => !a.startsWith('-'));
  if (words[0]?.startsWith('l')) out(ipLink(f));
  else {
    const held = (await ctl({ op: 'heldAddresses', host: self().id }).catch(() => ({ addresses: [] })))
      .addresses as string[] | undefined;
    out(ipAddr(f, held ?? []));
  }
  return 0;
};

function supervisorInstalled(s: HostState): void {
  if (!s.supervisor.installed) throw new CmdError('bash: supervisorctl: command not found', 127);
}

const CONF_D = () => join(ROOT, 'etc/supervisor/conf.d');

function confNames(): string[] {
  const d = CONF_D();
  return existsSync(d)
    ? readdirSync(d)
        .filter((f) => f.endsWith('.conf'))
        .map((f) => f.slice(0, -5))
    : [];
}

let pidSeq = Date.now() % 20000;
export function startProgram(s: HostState, name: string): void {
  s.supervisor.programs[name] = { state: 'RUNNING', pid: 2000 + (pidSeq++ % 30000), startedAt: Date.now() };
}

const supervisorctl: Cmd = (args) => {
  const [action = 'status', ...names] = args;
  supervisorInstalled(self());
  if (action === 'status') {
    const r = supervisorStatus(self(), names);
    out(r.out);
    return r.code;
  }
  if (action === 'reread') {
    const s = self();
    const conf = confNames();
    const known = Object.keys(s.supervisor.programs);
    const lines = [
      ...known.filter((n) => !conf.includes(n)).map((n) => `${n}: disappeared`),
      ...conf.filter((n) => !known.includes(n)).map((n) => `${n}: available`),
    ];
    out(lines.length ? lines.join('\n') : 'No config updates to processes');
    return 0;
  }
  if (action === 'update') {
    const conf = confNames();
    const lines = updateSelf((s) => {
      const l: string[] = [];
      for (const n of Object.keys(s.supervisor.programs)) {
        if (conf.includes(n)) continue;
        if (s.supervisor.programs[n]?.state === 'RUNNING') l.push(`${n}: stopped`);
        delete s.supervisor.programs[n];
        l.push(`${n}: removed process group`);
      }
      for (const n of conf) {
        if (s.supervisor.programs[n]) continue;
        startProgram(s, n);
        l.push(`${n}: added process group`);
      }
      return l;
    });
    out(lines.join('\n'));
    return 0;
  }
  if (!['stop', 'start', 'restart'].includes(action)) {
    err(`*** Unknown syntax: ${args.join(' ')}`);
    return 2;
  }
  if (!names.length) {
    err(`Error: ${action} requires a process name`);
    return 2;
  }
  const { lines, code } = updateSelf((s) => {
    const l: string[] = [];
    let c = 0;
    const targets = names.includes('all') ? Object.keys(s.supervisor.programs).sort() : names;
    for (const n of targets) {
      const p = s.supervisor.programs[n];
      if (!p) {
        l.push(`${n}: ERROR (no such process)`);
        c = 1;
        continue;
      }
      if (action !== 'start' && p.state === 'RUNNING') {
        s.supervisor.programs[n] = { ...p, state: 'STOPPED', startedAt: Date.now() };
        l.push(`${n}: stopped`);
      } else if (action === 'stop') l.push(`${n}: ERROR (not running)`);
      if (action !== 'stop') {
        if (action === 'start' && p.state === 'RUNNING') l.push(`${n}: ERROR (already started)`);
        else {
          startProgram(s, n);
          l.push(`${n}: started`);
        }
      }
    }
    return { lines: l, code: c };
  });
  out(lines.join('\n'));
  return code;
};

const service: Cmd = (args) => {
  const [name = '', action = 'status'] = args;
  const s = self();
  if (!(name in s.services)) {
    err(`${name}: unrecognized service`);
    return 1;
  }
  if (action === 'status') {
    out(` * ${name} is ${s.services[name] === 'running' ? 'running' : 'not running'}`);
    return s.services[name] === 'running' ? 0 : 3;
  }
  if (!['start', 'stop', 'restart', 'reload', 'force-reload'].includes(action)) {
    err(`Usage: service ${name} {start|stop|restart|reload|force-reload|status}`);
    return 1;
  }
  if (action === 'reload' && s.services[name] !== 'running') {
    err(` * Reloading ${name} configuration ${name}\n   ...fail!`);
    return 1;
  }
  updateSelf((st) => {
    st.services[name] = action === 'stop' ? 'stopped' : 'running';
  });
  const verb = {
    start: 'Starting',
    stop: 'Stopping',
    restart: 'Restarting',
    reload: 'Reloading',
    'force-reload': 'Reloading',
  }[action];
  out(` * ${verb} ${name} ${name}\n   ...done.`);
  return 0;
};

const shutdown: Cmd = async (args) => {
  if (!args.some((a) => a === '-h' || a === '-P' || a === '--poweroff' || a === '-r') && args.length) {
    err('shutdown: use -h now');
    return 1;
  }
  const id = updateSelf((s) => {
    s.power = 'off';
    for (const p of Object.values(s.supervisor.programs)) if (p.state === 'RUNNING') p.state = 'STOPPED';
    return s.id;
  });
  timeline(SERVICES, { time: Date.now(), host: id, event: 'poweroff' });
  out(`\nBroadcast message from root@${self().hostname}\n\nThe system is going down for power-off NOW!`);
  // The platform stops this host's sshd shortly after, like a machine that powers off.
  await ctl({ op: 'poweroff', host: id, delayMs: 300 }).catch(() => undefined);
  return 0;
};

const hostname: Cmd = () => {
  out(self().hostname);
  return 0;
};

const nproc: Cmd = () => {
  out(String(facts().cpu));
  return 0;
};

const unameCmd: Cmd = (args) => {
  out(uname(facts(), self().hostname, args));
  return 0;
};

/** Writes or removes a supervisor conf file, as a package install/remove would. */
export function writeProgramConf(root: string, name: string, present: boolean): void {
  const path = join(root, 'etc/supervisor/conf.d', `${name}.conf`);
  if (present) writeFileSync(path, programConf(name));
  else rmSync(path, { force: true });
}

export const NODE_COMMANDS: Record<string, Cmd> = {
  lsb_release,
  lsblk,
  'dpkg-query': dpkg_query,
  kvm: qemu,
  'qemu-system-x86_64': qemu,
  ip,
  supervisorctl,
  service,
  shutdown,
  poweroff: (a) => shutdown(['-h', 'now', ...a]),
  hostname,
  nproc,
  uname: unameCmd,
};
