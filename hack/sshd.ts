/**
 * Starts a real OpenSSH `sshd` (Debian's `/usr/sbin/sshd`) with its own config, host key and
 * authorized_keys in a working directory. Used by the SSH integration tests and by the simulated
 * platform, so host keys, auth, timeouts and dropped connections are OpenSSH's own behaviour.
 *
 * Password authentication: with `UsePAM no`, sshd checks the system's /etc/shadow, and we never
 * change the machine's root password. `allowPassword` only flips the sshd switches; tests of the
 * operator's password path use an in-process ssh2 `Server` instead (test/integration/ssh-password.test.ts).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const SSHD_BINARY = '/usr/sbin/sshd';

export interface SshdOptions {
  address: string;
  port: number;
  /** Working dir for config, keys, logs. */
  dir: string;
  /** Public key lines (`ssh-ed25519 AAAA... comment`). */
  authorizedKeys: string[];
  hostKeyType?: 'ed25519' | 'ecdsa' | 'rsa';
  /** sshd `ForceCommand`. */
  forceCommand?: string;
  /**
   * Extra sshd_config lines. They are placed before the defaults (sshd keeps the first value of a
   * keyword, so they override), except a trailing `Match` block, which is placed last.
   */
  extraConfig?: string[];
  /** argv prefix to start sshd inside, e.g. `['unshare','--mount','--propagation','private','--','/path/init.sh']`. */
  wrap?: string[];
  env?: Record<string, string>;
  allowPassword?: boolean;
}

export interface SshdHandle {
  address: string;
  port: number;
  pid: number;
  /** `SHA256:...` as printed by `ssh-keygen -lf`. */
  hostKeyFingerprint: string;
  /** `ssh-ed25519 AAAA...` */
  hostPublicKey: string;
  /** A known_hosts line for this address and port. */
  knownHostsLine: string;
  stop(): Promise<void>;
  restart(opts?: { regenerateHostKey?: boolean }): Promise<void>;
  /**
   * Kills the per-connection sshd processes (not the listener): every open SSH connection drops
   * mid-whatever. Resolves to how many were killed. (Extension beyond the base contract.)
   */
  killSessions(): Promise<number>;
}

const START_TIMEOUT_MS = 15_000;
const STDERR_KEEP = 16 * 1024;

/** OpenSSH fingerprint of a public key line: `SHA256:` + unpadded base64 of sha256(key blob). */
export function fingerprintOfPublicKeyLine(line: string): string {
  const blob = line.trim().split(/\s+/)[1];
  if (!blob) throw new Error(`not a public key line: ${JSON.stringify(line)}`);
  const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** A known_hosts line in OpenSSH's form: the bare host for port 22, `[host]:port` otherwise. */
export function knownHostsLineFor(address: string, port: number, publicKeyLine: string): string {
  const [type, blob] = publicKeyLine.trim().split(/\s+/);
  const host = port === 22 ? address : `[${address}]:${port}`;
  return `${host} ${type} ${blob}`;
}

export async function generateKeyPair(
  dir: string,
  name: string,
  type: 'ed25519' | 'rsa' = 'ed25519',
): Promise<{ privateKeyPath: string; privateKey: string; publicKey: string }> {
  await mkdir(dir, { recursive: true });
  const privateKeyPath = join(dir, name);
  // ssh-keygen asks before overwriting; a fresh pair is what callers want.
  await rm(privateKeyPath, { force: true });
  await rm(`${privateKeyPath}.pub`, { force: true });
  const bits = type === 'rsa' ? ['-b', '3072'] : [];
  await execFileP('ssh-keygen', ['-q', '-t', type, ...bits, '-N', '', '-C', name, '-f', privateKeyPath]);
  const [privateKey, publicKey] = await Promise.all([
    readFile(privateKeyPath, 'utf8'),
    readFile(`${privateKeyPath}.pub`, 'utf8'),
  ]);
  return { privateKeyPath, privateKey, publicKey: publicKey.trim() };
}

async function waitForSshdBinary(timeoutMs = 180_000): Promise<void> {
  // The project's setup may still be installing openssh-server when the first test starts.
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(SSHD_BINARY)) {
    if (Date.now() > deadline) {
      throw new Error(`${SSHD_BINARY} not found; install Debian's openssh-server (bash hack/setup.sh)`);
    }
    await sleep(500);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function ensureHostKey(dir: string, type: string, regenerate: boolean): Promise<string> {
  const path = join(dir, `ssh_host_${type}_key`);
  if (regenerate || !existsSync(path)) {
    await rm(path, { force: true });
    await rm(`${path}.pub`, { force: true });
    const bits = type === 'rsa' ? ['-b', '2048'] : type === 'ecdsa' ? ['-b', '256'] : [];
    await execFileP('ssh-keygen', ['-q', '-t', type, ...bits, '-N', '', '-C', 'sshd-host-key', '-f', path]);
  }
  return path;
}

function renderConfig(opts: SshdOptions, hostKeyPath: string): string {
  const extra = opts.extraConfig ?? [];
  const matchAt = extra.findIndex((l) => /^\s*Match\s/i.test(l));
  const head = matchAt < 0 ? extra : extra.slice(0, matchAt);
  const tail = matchAt < 0 ? [] : extra.slice(matchAt);
  const lines = [
    '# generated by hack/sshd.ts',
    ...head,
    `ListenAddress ${opts.address}`,
    `Port ${opts.port}`,
    `HostKey ${hostKeyPath}`,
    `PidFile ${join(opts.dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(opts.dir, 'authorized_keys')}`,
    `PermitRootLogin ${opts.allowPassword ? 'yes' : 'prohibit-password'}`,
    `PasswordAuthentication ${opts.allowPassword ? 'yes' : 'no'}`,
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'UsePAM no',
    'StrictModes no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    // curve25519 first: post-quantum and DH group exchange cost far more CPU per handshake.
    'KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521',
    'MaxStartups 10:30:100',
    'MaxSessions 10',
    'LoginGraceTime 30',
    'LogLevel ERROR',
    'Subsystem sftp internal-sftp',
    ...(opts.forceCommand ? [`ForceCommand ${opts.forceCommand}`] : []),
    ...tail,
  ];
  return `${lines.join('\n')}\n`;
}

/** Resolves once the port accepts a TCP connection and sends an SSH identification line. */
function probeBanner(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port });
    let buf = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (/^SSH-\d\.\d/m.test(buf)) done(true);
    });
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
  });
}

class Sshd implements SshdHandle {
  pid = 0;
  hostKeyFingerprint = '';
  hostPublicKey = '';
  knownHostsLine = '';
  private child: ChildProcess | undefined;
  private stderr = '';
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly opts: SshdOptions) {}

  get address(): string {
    return this.opts.address;
  }
  get port(): number {
    return this.opts.port;
  }

  async start(regenerateHostKey: boolean): Promise<void> {
    const { opts } = this;
    await waitForSshdBinary();
    await mkdir(opts.dir, { recursive: true });
    // sshd refuses to start without its privilege-separation directory.
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    const type = opts.hostKeyType ?? 'ed25519';
    const hostKeyPath = await ensureHostKey(opts.dir, type, regenerateHostKey);
    this.hostPublicKey = (await readFile(`${hostKeyPath}.pub`, 'utf8'))
      .trim()
      .split(/\s+/)
      .slice(0, 2)
      .join(' ');
    this.hostKeyFingerprint = fingerprintOfPublicKeyLine(this.hostPublicKey);
    this.knownHostsLine = knownHostsLineFor(opts.address, opts.port, this.hostPublicKey);
    await writeFile(
      join(opts.dir, 'authorized_keys'),
      opts.authorizedKeys.map((k) => `${k.trim()}\n`).join(''),
      {
        mode: 0o600,
      },
    );
    const configPath = join(opts.dir, 'sshd_config');
    await writeFile(configPath, renderConfig(opts, hostKeyPath));

    const argv = [...(opts.wrap ?? []), SSHD_BINARY, '-D', '-e', '-f', configPath];
    this.stderr = '';
    // A process group of its own, so stop() can take the per-connection children with it.
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...opts.env },
      detached: true,
    });
    this.child = child;
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString('utf8')).slice(-STDERR_KEEP);
    });
    let exitInfo: string | undefined;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = `exited with ${signal ?? `code ${code}`}`;
        resolve();
      });
      child.once('error', (err) => {
        exitInfo = `failed to start: ${err.message}`;
        resolve();
      });
    });
    this.pid = child.pid ?? 0;

    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exitInfo) {
        throw new Error(`sshd on ${opts.address}:${opts.port} ${exitInfo}; stderr:\n${this.stderr}`);
      }
      if (await probeBanner(opts.address, opts.port, 1000)) return;
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(
          `sshd on ${opts.address}:${opts.port} did not answer with an SSH banner within ${START_TIMEOUT_MS} ms; stderr:\n${this.stderr}`,
        );
      }
      await sleep(50);
    }
  }

  /**
   * Stops the listener and drops every open session, as a machine that goes down does. sshd's
   * per-connection processes call setsid(), so they leave the listener's process group, and once the
   * listener is gone they are reparented and no longer found under it: they are found first, while
   * the listener is held still (SIGSTOP, so no new session slips in between), and killed with it.
   * (A restarted or rebuilt machine drops its connections; a client must not go on talking to it.)
   */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        // already gone
      }
    };
    signalGroup('SIGSTOP');
    for (const pid of await sessionPids(child.pid!)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // raced with its own exit
      }
    }
    signalGroup('SIGTERM');
    signalGroup('SIGCONT');
    const forced = setTimeout(() => signalGroup('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(forced);
  }

  async restart(opts?: { regenerateHostKey?: boolean }): Promise<void> {
    await this.stop();
    await this.start(opts?.regenerateHostKey ?? false);
  }

  async killSessions(): Promise<number> {
    if (!this.pid) return 0;
    const children = await childPids(this.pid);
    let n = 0;
    for (const pid of children) {
      try {
        process.kill(pid, 'SIGKILL');
        n++;
      } catch {
        // raced with its own exit
      }
    }
    return n;
  }
}

/**
 * sshd's own processes below `root` (per-connection `sshd`, `sshd-session`, `sshd-auth`, and
 * theirs), from one pass over /proc. Commands the sessions run are not among them: a job detached
 * from its session (setsid) outlives the connection, as it would on a real host.
 */
async function sessionPids(root: number): Promise<number[]> {
  const byParent = new Map<number, Array<{ pid: number; comm: string }>>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), { pid: Number(entry), comm }]);
    } catch {
      // process exited while we looked
    }
  }
  const out: number[] = [];
  const queue = [...(byParent.get(root) ?? [])];
  while (queue.length > 0) {
    const p = queue.shift()!;
    if (!/^sshd/.test(p.comm)) continue;
    out.push(p.pid);
    queue.push(...(byParent.get(p.pid) ?? []));
  }
  return out;
}

/** Direct children of a process, from /proc (no `ps`/`pgrep` dependency). */
async function childPids(parent: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // Field 4 is the ppid; the command name (field 2) may contain spaces, so parse after ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) out.push(Number(entry));
    } catch {
      // process exited while we looked
    }
  }
  return out;
}

export async function startSshd(opts: SshdOptions): Promise<SshdHandle> {
  const sshd = new Sshd(opts);
  await sshd.start(false);
  return sshd;
}
