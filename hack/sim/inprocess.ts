/**
 * The light mode for benchmarks: one ssh2 `Server` per address, all in this process, answering
 * the node fact probe (the `@@pitrix:SECTION@@` batch of docs/platform-interface.md) from each
 * node's scenario state with the same renderers the sshd hosts' shims use. Hundreds of nodes
 * cost a listener each; no sshd, namespaces or command processes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';
import { ed25519KeyPair } from '../ed25519.js';
import {
  dpkgQuery,
  effectiveFacts,
  ipAddr,
  lsbDescription,
  lsblkHasJson,
  lsblkJson,
  lsblkPairs,
  meminfo,
  osRelease,
  supervisorStatus,
  uname,
} from './render.js';
import { loadScenario, normalize } from './scenario.js';
import type { HostState } from './types.js';

const { Server, utils } = ssh2;

export interface InProcessOptions {
  /** A scenario (its nodes are served), or none to synthesize `count` hyper nodes. */
  scenario?: string | object;
  count?: number;
  /** First two octets of the addresses: node i listens on `${prefix}.${i >> 8}.${(i & 255) + 1}`. */
  prefix?: string;
  port?: number;
  /** Public key lines accepted for root. */
  authorizedKeys: string[];
  /** Also accept this password (the operator's password path). */
  password?: string;
}

export interface InProcessHost {
  id: string;
  address: string;
  port: number;
  hostKeyFingerprint: string;
  knownHostsLine: string;
  state: HostState;
}

export interface InProcessPlatform {
  hosts: InProcessHost[];
  /** Commands executed so far, per host id. */
  execCount: Map<string, number>;
  stop(): Promise<void>;
}

/** Output and exit code of one probe section (or single command) for a host. */
export function section(s: HostState, name: string): { out: string; code: number } {
  const f = effectiveFacts(s);
  switch (name) {
    case 'arch':
      return { out: `${f.arch}\n`, code: 0 };
    case 'kernel':
      return { out: `${f.kernel}\n`, code: 0 };
    case 'cpu':
      return { out: `${f.cpu}\n`, code: 0 };
    case 'meminfo':
      return { out: meminfo(f), code: 0 };
    case 'lsb':
      return { out: `${lsbDescription(f)}\n`, code: 0 };
    case 'osrelease':
      return { out: osRelease(f), code: 0 };
    case 'lsblk':
      return { out: lsblkHasJson(f) ? lsblkJson(f) : lsblkPairs(f), code: 0 };
    case 'ip':
      return { out: ipAddr(f), code: 0 };
    case 'qemu':
      return f.qemu ? { out: `${f.qemu}\n`, code: 0 } : { out: '', code: 127 };
    case 'packages': {
      const t = dpkgQuery(s, '${Package} ${Version} ${Status}\\n', ['pitrix-*']);
      return { out: t ?? '', code: t ? 0 : 1 };
    }
    case 'supervisor':
      if (!s.supervisor.installed) return { out: 'bash: supervisorctl: command not found\n', code: 127 };
      return supervisorStatus(s);
    case 'hostname':
      return { out: `${s.hostname}\n`, code: 0 };
    default:
      return { out: '', code: 127 };
  }
}

const SINGLE: Record<string, string> = {
  'uname -m': 'arch',
  'uname -r': 'kernel',
  nproc: 'cpu',
  'cat /proc/meminfo': 'meminfo',
  'lsb_release -ds': 'lsb',
  'cat /etc/os-release': 'osrelease',
  'supervisorctl status': 'supervisor',
  hostname: 'hostname',
};

/**
 * The sections a command asks for: literal `@@pitrix:NAME@@` markers, or the `m NAME` calls of the
 * real node probe (src/facts/probe.ts), which prints its markers through a shell function.
 */
function requestedSections(command: string): string[] {
  const literal = [...command.matchAll(/@@pitrix:([a-z0-9_]+)@@/g)].map((m) => m[1]!);
  const calls = command.includes('@@pitrix:%s@@')
    ? [...command.matchAll(/^m ([a-z][a-z0-9_]*)\b/gm)].map((m) => m[1]!)
    : [];
  return [...literal, ...calls];
}

export function answer(s: HostState, command: string): { out: string; code: number } {
  const markers = requestedSections(command);
  if (markers.length) {
    let out = '';
    for (const name of [...new Set(markers)].filter((n) => n !== 'end'))
      out += `@@pitrix:${name}@@\n${section(s, name).out}`;
    return { out: `${out}@@pitrix:end@@\n`, code: 0 };
  }
  const c = command.trim();
  if (c === 'true' || c === '') return { out: '', code: 0 };
  // A check that answers "not done" (the engine benchmark's steps).
  if (c === 'false') return { out: '', code: 1 };
  if (c.startsWith('uname'))
    return { out: uname(effectiveFacts(s), s.hostname, c.split(/\s+/).slice(1)), code: 0 };
  const name = SINGLE[c];
  return name ? section(s, name) : { out: `bash: ${c.split(/\s+/)[0]}: command not found\n`, code: 127 };
}

function synthetic(count: number): object {
  return {
    name: 'synthetic',
    installerVersion: '4.6.2',
    zones: [{ id: 'bench1', global: true, mode: 'fusion' }],
    nodes: Array.from({ length: count }, (_, i) => ({ id: `hyper${i + 1}`, roles: ['hyper'], address: 1 })),
  };
}

export async function startInProcess(opts: InProcessOptions): Promise<InProcessPlatform> {
  const sc = loadScenario(opts.scenario ?? synthetic(opts.count ?? 200));
  const states = normalize(sc).hosts.filter((h) => h.kind === 'node');
  const prefix = opts.prefix ?? '127.78';
  const port = opts.port ?? 22;
  const keys = ed25519KeyPair();
  const hostKey = utils.parseKey(keys.private);
  if (hostKey instanceof Error) throw hostKey;
  const pubBlob = hostKey.getPublicSSH();
  const fingerprint = `SHA256:${createHash('sha256').update(pubBlob).digest('base64').replace(/=+$/, '')}`;
  const allowed = opts.authorizedKeys.map((k) => {
    const p = utils.parseKey(k);
    if (p instanceof Error) throw p;
    return p;
  });
  const execCount = new Map<string, number>();
  const servers: InstanceType<typeof Server>[] = [];
  const hosts: InProcessHost[] = [];
  const clients = new Set<{ end(): unknown }>();

  for (const [i, s] of states.entries()) {
    const address = `${prefix}.${i >> 8}.${(i & 255) + 1}`;
    s.address = address;
    s.facts.nics = [{ name: 'eth0', mac: s.facts.nics[0]?.mac ?? '', addresses: [`${address}/16`] }];
    const server = new Server({ hostKeys: [keys.private] }, (client) => {
      clients.add(client);
      // As OpenSSH does: without it, delayed ACKs stall each handshake round trip (~40 ms).
      // ssh2's server Connection has setNoDelay at run time; its type definitions lack it.
      (client as unknown as { setNoDelay(on: boolean): void }).setNoDelay(true);
      client.on('close', () => clients.delete(client));
      client.on('authentication', (ctx) => {
        if (ctx.username !== 'root') return ctx.reject();
        if (ctx.method === 'password' && opts.password !== undefined) {
          const a = Buffer.from(ctx.password);
          const b = Buffer.from(opts.password);
          return a.length === b.length && timingSafeEqual(a, b) ? ctx.accept() : ctx.reject();
        }
        if (ctx.method !== 'publickey')
          return ctx.reject(['publickey', ...(opts.password !== undefined ? ['password' as const] : [])]);
        const key = allowed.find((k) => k.type === ctx.key.algo && k.getPublicSSH().equals(ctx.key.data));
        if (!key) return ctx.reject();
        if (!ctx.signature) return ctx.accept();
        return key.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) ? ctx.accept() : ctx.reject();
      });
      client.on('ready', () => {
        client.on('session', (acceptSession) => {
          const session = acceptSession();
          session.on('exec', (acceptExec, _reject, info) => {
            const stream = acceptExec();
            execCount.set(s.id, (execCount.get(s.id) ?? 0) + 1);
            const r = answer(s, info.command);
            stream.write(r.out);
            stream.exit(r.code);
            stream.end();
          });
        });
      });
      client.on('error', () => {});
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, address, () => resolve());
    });
    servers.push(server);
    const host = port === 22 ? address : `[${address}]:${port}`;
    hosts.push({
      id: s.id,
      address,
      port,
      hostKeyFingerprint: fingerprint,
      knownHostsLine: `${host} ssh-ed25519 ${pubBlob.toString('base64')}`,
      state: s,
    });
  }
  let stopped: Promise<void> | undefined;
  return {
    hosts,
    execCount,
    stop: () => {
      stopped ??= (async () => {
        for (const c of clients) c.end();
        await Promise.all(servers.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
      })();
      return stopped;
    },
  };
}
