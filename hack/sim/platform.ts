/**
 * The simulated QingCloud platform: a firstbox and nodes, each a real OpenSSH sshd in its own
 * mount namespace and chroot (see layout.ts), on its own loopback address. Tests and the demo
 * drive it through this API; the commands inside the hosts share hack/sim/store.ts with it.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { generateKeyPair, type SshdHandle, startSshd } from '../sshd.js';
import { bundleCommands } from './bundle.js';
import { writeFacts } from './facts-files.js';
import { floatingIpsOn } from './floating.js';
import { hostDir, layoutHost } from './layout.js';
import { readToolRuns, type ToolRun } from './runs.js';
import { loadScenario, normalize, type Scenario } from './scenario.js';
import {
  timeline as appendTimeline,
  COMMAND_LOG,
  FAULTS_FILE,
  HOST_KEY_FILE,
  readHost,
  readJson,
  STATE_FILE,
  TIMELINE,
  updateBoss,
  updateHost,
  withLock,
  writeJson,
} from './store.js';
import type { BossDb, CommandLogEntry, Fault, HostState, SimConfig, TagDb, TimelineEvent } from './types.js';

export interface SimHost {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly roles: string[];
  readonly hostKeyFingerprint: string;
  readonly knownHostsLine: string;
  readonly hostPublicKey: string;
}

export interface StartOptions {
  scenario: string | object;
  workDir?: string;
  timeScale?: number;
  /** Strict mode (hack/sim/strict.ts): scripts, options and subcommands the originals do not name are refused. */
  strict?: boolean | 'assumed';
  /** sshd port on every host (default: the scenario's, 22). */
  portBase?: number;
  /** Third octet of 127.77.X.Y host addresses (default: the scenario's). */
  subnet?: number;
}

export interface Platform {
  readonly scenario: Scenario;
  readonly workDir: string;
  readonly firstbox: SimHost;
  readonly nodes: SimHost[];
  readonly spare: SimHost[];
  host(idOrAddress: string): SimHost;
  readonly clientKey: { privateKey: string; publicKey: string; privateKeyPath: string };
  /** known_hosts text for every host (for `ssh -o UserKnownHostsFile=`). */
  knownHosts(): string;
  commandLog(host?: string): Promise<CommandLogEntry[]>;
  setFault(host: string, fault: Fault): Promise<void>;
  clearFaults(host?: string): Promise<void>;
  flipHostKey(host: string): Promise<void>;
  readState(host: string, relPath: string): Promise<string>;
  writeFile(host: string, relPath: string, content: string): Promise<void>;
  state(host: string): Promise<HostState>;
  mutate(host: string, fn: (s: HostState) => void): Promise<void>;
  timeline(): Promise<TimelineEvent[]>;
  /** Runs of the installer tools without a job record of their own (hack/sim/runs.ts), on one host. */
  toolRuns(host: string): Promise<ToolRun[]>;
  tagDb(): Promise<TagDb>;
  boss(): Promise<BossDb>;
  updateBoss(fn: (b: BossDb) => void): Promise<void>;
  setTimeScale(scale: number): Promise<void>;
  /** Temporary management addresses a rebuilt VM answers on (launch_vms.sh from a lent address). */
  lentAddresses(): string[];
  /** What a human's switch-back does: the VM no longer answers on the temporary address. */
  releaseAddress(address: string): Promise<boolean>;
  /** Host root directory from the root namespace (read-only use: it is the host's own state). */
  rootOf(host: string): string;
  stop(): Promise<void>;
}

const NODE = process.execPath;

export async function startPlatform(opts: StartOptions): Promise<Platform> {
  const scenario = loadScenario(opts.scenario);
  const norm = normalize(scenario, {
    ...(opts.subnet !== undefined ? { subnet: opts.subnet } : {}),
    ...(opts.portBase !== undefined ? { port: opts.portBase } : {}),
  });
  const ownWorkDir = !opts.workDir;
  const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), 'pitrix-sim-'));
  mkdirSync(workDir, { recursive: true });
  const services = join(workDir, 'services');
  const bundle = join(workDir, 'bin/simcmd.mjs');
  mkdirSync(services, { recursive: true });
  mkdirSync(join(workDir, 'bin/cache'), { recursive: true });
  const watchdog = startWatchdog(workDir, ownWorkDir);

  const handles = new Map<string, SshdHandle>();
  let ctlServer: Server | undefined;
  // A rebuilt VM launched on a temporary management address answers there until a human moves it
  // back (R5, seed 004 line 73): address -> the listener standing for it, and the host it is lent to.
  const lent = new Map<string, { host: string; server: Server }>();
  const unlend = (address: string) => {
    const l = lent.get(address);
    lent.delete(address);
    return new Promise<boolean>((res) => (l ? l.server.close(() => res(true)) : res(false)));
  };
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      ctlServer?.close();
      await Promise.all([...lent.keys()].map(unlend));
      await Promise.all([...handles.values()].map((h) => h.stop().catch(() => undefined)));
      killRootedIn(join(workDir, 'hosts'));
      try {
        process.kill(watchdog, 'SIGKILL');
      } catch {
        // already gone
      }
      if (ownWorkDir) rmSync(workDir, { recursive: true, force: true });
    })());

  try {
    const [, client] = await Promise.all([
      bundleCommands(bundle),
      generateKeyPair(join(workDir, 'client'), 'id_ed25519'),
    ]);
    const config: SimConfig = {
      timeScale: opts.timeScale ?? Number(process.env.PITRIX_SIM_TIME_SCALE ?? 1),
      ...(opts.strict ? { strict: opts.strict } : {}),
      domain: scenario.domain,
      nodePath: NODE,
      bundle,
      hosts: norm.hosts.map((h) => ({
        id: h.id,
        address: h.address,
        port: h.port,
        kind: h.kind,
        roles: h.roles,
        spare: h.spare,
      })),
    };
    writeJson(join(services, 'config.json'), config);
    writeJson(join(services, 'tagdb.json'), norm.tagDb);
    writeJson(join(services, 'boss.json'), norm.boss);
    writeFileSync(join(services, TIMELINE), '');
    const paths = { workDir, services, nodePath: NODE, bundle };
    const inits = new Map(norm.hosts.map((h) => [h.id, layoutHost(paths, h, norm.hosts)]));
    const rootOf = (id: string) => join(hostDir(workDir, id), 'fs');
    // The firstbox's own key (root@firstbox), authorized on every node: the firstbox's real ssh is
    // how the operator reaches nodes (docs/platform-interface.md, "Node access through the firstbox").
    const fbId = norm.hosts[0]!.id;
    const firstboxKey = await generateKeyPair(join(rootOf(fbId), 'root/.ssh'), 'id_ed25519');
    // Each host's current known_hosts line, where the firstbox's tools (add-nodes.py) can read it.
    const writePid = (id: string) => {
      writeFileSync(join(rootOf(id), '.sim/pid'), String(handles.get(id)!.pid));
      writeFileSync(join(rootOf(id), HOST_KEY_FILE), `${handles.get(id)!.knownHostsLine}\n`);
    };

    // keepalived: when the node holding a zone's floating IP powers off, another webservice node
    // of that zone that is up with keepalived running takes it over.
    const failoverVip = (id: string) => {
      const fbRoot = rootOf(norm.hosts[0]!.id);
      updateHost(fbRoot, services, (s) => {
        const f = s.firstbox!;
        for (const [zone, holder] of Object.entries(f.vip)) {
          const rec = f.nodes.find((n) => n.node_id === holder);
          if (!rec || rec.host !== id) continue;
          const next = f.nodes.find((n) => {
            if (n.zone_id !== zone || n.host === id || !n.roles.includes('webservice')) return false;
            const st = readHost(rootOf(n.host));
            return st.power === 'on' && st.services.keepalived === 'running';
          });
          if (!next) continue;
          f.vip[zone] = next.node_id;
          appendTimeline(services, {
            time: Date.now(),
            host: next.host,
            event: 'vip',
            detail: `${zone}: ${holder} -> ${next.node_id}`,
          });
        }
      });
    };
    ctlServer = await serveControl(join(services, 'ctl.sock'), async (req) => {
      const id = String(req.host);
      const h = handles.get(id);
      if (!h) throw new Error(`unknown host ${id}`);
      if (req.op === 'poweroff') {
        failoverVip(id);
        for (const [address, l] of lent) if (l.host === id) await unlend(address);
        setTimeout(
          () => {
            void h.stop().then(() => killRootedIn(rootOf(id)));
          },
          Number(req.delayMs ?? 300),
        );
        return {};
      }
      if (req.op === 'heldAddresses') {
        // keepalived: the floating IP of a zone is an address of the node holding its VIP.
        const fbRoot = rootOf(norm.hosts[0]!.id);
        const f = readHost(fbRoot).firstbox;
        const st = readHost(rootOf(id));
        if (!f || st.power !== 'on' || st.services.keepalived !== 'running') return { addresses: [] };
        const addresses = [...floatingIpsOn(fbRoot, f)]
          .filter(([, zone]) => f.nodes.find((n) => n.node_id === f.vip[zone])?.host === id)
          .map(([ip]) => ip);
        return { addresses };
      }
      if (req.op === 'poweron') {
        await h.restart({ regenerateHostKey: Boolean(req.regenerateHostKey) });
        // Simplified: the VM also keeps answering on its listed address, because the simulated
        // installer tools reach it there; the temporary one is what the switch-back check probes.
        if (typeof req.lendAddress === 'string' && !lent.has(req.lendAddress)) {
          // A probe (bash's /dev/tcp) connects and closes at once: a reset is its normal goodbye.
          const server = createServer((sock) => {
            sock.on('error', () => undefined);
            sock.end(`SSH-2.0-OpenSSH_sim ${id} (temporary address)\r\n`);
          });
          await new Promise<void>((res, rej) =>
            server.once('error', rej).listen(h.port, String(req.lendAddress), () => res()),
          );
          lent.set(req.lendAddress, { host: id, server });
        }
        writePid(id);
        return { hostKeyFingerprint: h.hostKeyFingerprint };
      }
      throw new Error(`unknown op ${String(req.op)}`);
    });

    await Promise.all(
      norm.hosts.map(async (h) => {
        const handle = await startSshd({
          address: h.address,
          port: h.port,
          dir: join(hostDir(workDir, h.id), 'sshd'),
          authorizedKeys: h.kind === 'node' ? [client.publicKey, firstboxKey.publicKey] : [client.publicKey],
          forceCommand: `NODE_COMPILE_CACHE=${workDir}/bin/cache exec ${NODE} ${bundle} @wrapper`,
          wrap: ['unshare', '--mount', '--propagation', 'private', '--', inits.get(h.id)!],
        });
        handles.set(h.id, handle);
        writePid(h.id);
      }),
    );
    // The firstbox knows the keys of the nodes its installer lists (as after their deployment);
    // spare machines are added by add-nodes.py when the installer first reaches them.
    writeFileSync(
      join(rootOf(fbId), 'root/.ssh/known_hosts'),
      (norm.hosts[0]!.firstbox?.nodes ?? [])
        .map((n) => handles.get(n.host)?.knownHostsLine)
        .filter(Boolean)
        .map((l) => `${l}\n`)
        .join(''),
    );

    const simHost = (s: HostState): SimHost => {
      const handle = () => handles.get(s.id)!;
      return {
        id: s.id,
        address: s.address,
        port: s.port,
        roles: s.roles,
        get hostKeyFingerprint() {
          return handle().hostKeyFingerprint;
        },
        get knownHostsLine() {
          return handle().knownHostsLine;
        },
        get hostPublicKey() {
          return handle().hostPublicKey;
        },
      };
    };
    const all = norm.hosts.map(simHost);
    const host = (key: string): SimHost => {
      const h = all.find((x) => x.id === key || x.address === key);
      if (!h) throw new Error(`no simulated host ${key}`);
      return h;
    };
    const rerender = (id: string) => {
      const root = rootOf(id);
      writeFacts(root, readHost(root), readJson<Fault[]>(join(root, FAULTS_FILE), []));
    };
    const flipHostKey = async (id: string) => {
      const h = handles.get(host(id).id)!;
      await h.restart({ regenerateHostKey: true });
      writePid(host(id).id);
    };
    return {
      scenario,
      workDir,
      firstbox: all[0]!,
      nodes: all.filter((_, i) => norm.hosts[i]!.kind === 'node' && !norm.hosts[i]!.spare),
      spare: all.filter((_, i) => norm.hosts[i]!.spare),
      host,
      clientKey: client,
      knownHosts: () => all.map((h) => `${h.knownHostsLine}\n`).join(''),
      async commandLog(id?: string) {
        const ids = id ? [host(id).id] : all.map((h) => h.id);
        const entries = ids.flatMap((x) => {
          const p = join(rootOf(x), COMMAND_LOG);
          if (!existsSync(p)) return [];
          return readFileSync(p, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as CommandLogEntry);
        });
        return entries.sort((a, b) => a.time.localeCompare(b.time));
      },
      async setFault(id: string, fault: Fault) {
        const h = host(id);
        if (fault.kind === 'hostKey') return flipHostKey(h.id);
        const path = join(rootOf(h.id), FAULTS_FILE);
        withLock(path, () => writeJson(path, [...readJson<Fault[]>(path, []), fault]));
        if (fault.kind === 'wrongFacts') rerender(h.id);
      },
      async clearFaults(id?: string) {
        for (const h of id ? [host(id)] : all) {
          const path = join(rootOf(h.id), FAULTS_FILE);
          withLock(path, () => writeJson(path, []));
          rerender(h.id);
        }
      },
      flipHostKey,
      async readState(id: string, rel: string) {
        return readFileSync(join(rootOf(host(id).id), rel.replace(/^\/+/, '')), 'utf8');
      },
      async writeFile(id: string, rel: string, content: string) {
        const p = join(rootOf(host(id).id), rel.replace(/^\/+/, ''));
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, content);
      },
      async state(id: string) {
        return readJson<HostState>(join(rootOf(host(id).id), STATE_FILE));
      },
      async mutate(id: string, fn: (s: HostState) => void) {
        updateHost(rootOf(host(id).id), services, fn);
        rerender(host(id).id);
      },
      async timeline() {
        return readFileSync(join(services, TIMELINE), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as TimelineEvent);
      },
      toolRuns: async (id: string) => readToolRuns(rootOf(host(id).id)),
      async tagDb() {
        return readJson<TagDb>(join(services, 'tagdb.json'));
      },
      async boss() {
        return readJson<BossDb>(join(services, 'boss.json'));
      },
      async updateBoss(fn: (b: BossDb) => void) {
        updateBoss(services, fn);
      },
      async setTimeScale(scale: number) {
        const p = join(services, 'config.json');
        writeJson(p, { ...readJson<SimConfig>(p), timeScale: scale });
      },
      rootOf: (id: string) => rootOf(host(id).id),
      lentAddresses: () => [...lent.keys()],
      releaseAddress: unlend,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Kills every process whose root directory is inside `dir`: all of a simulated host's processes. */
export function killRootedIn(dir: string): number {
  let n = 0;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const root = readlinkSync(`/proc/${e}/root`);
      if (root === dir || root.startsWith(`${dir}/`)) {
        process.kill(Number(e), 'SIGKILL');
        n++;
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return n;
}

/**
 * A detached shell that outlives us: if this process dies without stop(), it kills every
 * process of the simulated hosts and removes the work dir. Mounts need no cleanup: they live in
 * the hosts' private namespaces, which vanish with their last process.
 */
function startWatchdog(workDir: string, removeDir: boolean): number {
  const script = `
while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done
for p in /proc/[0-9]*; do r=$(readlink "$p/root" 2>/dev/null) || continue
  case "$r" in "${workDir}/hosts/"*) kill -9 "\${p#/proc/}" 2>/dev/null;; esac; done
${removeDir ? `sleep 0.5; rm -rf "${workDir}"` : ''}`;
  const child = spawn('bash', ['-c', script], { detached: true, stdio: 'ignore' });
  child.unref();
  return child.pid ?? 0;
}

async function serveControl(
  path: string,
  handler: (req: Record<string, unknown>) => Promise<Record<string, unknown>>,
): Promise<Server> {
  if (existsSync(path)) unlinkSync(path);
  const server = createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = '';
      handler(JSON.parse(line) as Record<string, unknown>).then(
        (res) => sock.end(`${JSON.stringify(res)}\n`),
        (e: Error) => sock.end(`${JSON.stringify({ error: e.message })}\n`),
      );
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(path, r));
  server.unref();
  return server;
}
