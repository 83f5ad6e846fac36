/**
 * A real Kubernetes control plane for tests and the demo, the way envtest does it: etcd and
 * kube-apiserver on free loopback ports, a secure port only, a client-certificate admin in
 * `system:masters`, RBAC authorization and service-account signing keys (so RBAC can be tested for
 * real). Binaries come from `hack/control-plane-assets.sh` (KUBEBUILDER_ASSETS or a cached build).
 */

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { keepClusterEvidence } from './evidence.js';

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, '..');

export interface ControlPlane {
  /** Path of an admin kubeconfig (client certificate in system:masters). */
  kubeconfig: string;
  server: string;
  dir: string;
  assetsDir: string;
  /** Runs the real kubectl against this control plane; rejects with stderr on failure. */
  kubectl(args: string[], opts?: { input?: string; allowFailure?: boolean }): Promise<KubectlResult>;
  /** Stops and starts kube-apiserver only (etcd keeps the data): breaks every open watch. */
  restartApiserver(): Promise<void>;
  stop(): Promise<void>;
  startupMs: number;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function controlPlaneAssets(): Promise<string> {
  const { stdout } = await run('bash', [join(repoRoot, 'hack/control-plane-assets.sh')], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout.trim().split('\n').pop()!;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

/** CA, serving certificate, admin client certificate and service-account key pair. */
async function makePki(dir: string): Promise<void> {
  await openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=pitrix-test-ca',
  ]);
  await writeFile(
    join(dir, 'san.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default\nextendedKeyUsage=serverAuth\n',
  );
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, subj, ext] of [
    ['serving', '/CN=kube-apiserver', 'san.ext'],
    ['admin', '/O=system:masters/CN=pitrix-test-admin', 'client.ext'],
  ] as const) {
    await openssl(dir, [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subj,
    ]);
    await openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      ext,
    ]);
  }
  await openssl(dir, ['genrsa', '-out', 'sa.key', '2048']);
  await openssl(dir, ['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, logs: () => string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not become healthy within ${timeoutMs} ms. Its log:\n${logs().slice(-4000)}`);
}

function spawnLogged(bin: string, args: string[], logs: string[]): ChildProcess {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => {
    logs.push(d.toString());
    if (logs.length > 400) logs.splice(0, logs.length - 400);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return child;
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * The audit policy of `auditLog`: every write (create, update, patch, delete) with its request and
 * response bodies, nothing else (reads and watches would swamp it). Which object, which verb, who,
 * and what it changed: the way to see the writes a benchmark counts.
 */
export const WRITE_AUDIT_POLICY = [
  'apiVersion: audit.k8s.io/v1',
  'kind: Policy',
  'omitStages: [RequestReceived, ResponseStarted]',
  'rules:',
  '- level: RequestResponse',
  '  verbs: [create, update, patch, delete, deletecollection]',
  '- level: None',
  '',
].join('\n');

export async function startControlPlane(
  opts: {
    applyCrds?: boolean;
    log?: (m: string) => void;
    /**
     * Path of an API-server audit log (JSON lines, `WRITE_AUDIT_POLICY`: every write with its
     * request and response); outside the control plane's directory, so it outlives `stop()`.
     */
    auditLog?: string;
  } = {},
): Promise<ControlPlane> {
  const log = opts.log ?? (() => {});
  const t0 = Date.now();
  const assetsDir = await controlPlaneAssets();
  const dir = await mkdtemp(join(tmpdir(), 'pitrix-cp-'));
  await makePki(dir);
  const auditArgs: string[] = [];
  if (opts.auditLog) {
    await writeFile(join(dir, 'audit-policy.yaml'), WRITE_AUDIT_POLICY);
    auditArgs.push(
      `--audit-policy-file=${join(dir, 'audit-policy.yaml')}`,
      `--audit-log-path=${opts.auditLog}`,
      '--audit-log-format=json',
      '--audit-log-maxsize=0',
    );
  }
  const [etcdClient, etcdPeer, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const etcdLogs: string[] = [];
  const etcd = spawnLogged(
    join(assetsDir, 'etcd'),
    [
      '--data-dir',
      join(dir, 'etcd'),
      '--listen-client-urls',
      `http://127.0.0.1:${etcdClient}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${etcdClient}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${etcdPeer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster',
      `default=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync',
      '--log-level',
      'error',
    ],
    etcdLogs,
  );
  const apiLogs: string[] = [];
  let apiserver: ChildProcess | undefined;
  const server = `https://127.0.0.1:${apiPort}`;
  const caPem = await readFile(join(dir, 'ca.crt'));
  const { Agent, fetch } = await import('undici');
  const agent = new Agent({
    connect: {
      ca: caPem,
      cert: await readFile(join(dir, 'admin.crt')),
      key: await readFile(join(dir, 'admin.key')),
    },
  });
  const healthy = async (path: string) => {
    const r = await fetch(`${server}${path}`, { dispatcher: agent, signal: AbortSignal.timeout(2000) });
    return r.status === 200;
  };
  const startApiserver = async () => {
    apiserver = spawnLogged(
      join(assetsDir, 'kube-apiserver'),
      [
        `--etcd-servers=http://127.0.0.1:${etcdClient}`,
        `--secure-port=${apiPort}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--cert-dir=${dir}`,
        `--tls-cert-file=${join(dir, 'serving.crt')}`,
        `--tls-private-key-file=${join(dir, 'serving.key')}`,
        `--client-ca-file=${join(dir, 'ca.crt')}`,
        '--authorization-mode=RBAC',
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        `--service-account-issuer=https://127.0.0.1:${apiPort}`,
        `--service-account-key-file=${join(dir, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
        '--disable-admission-plugins=ServiceAccount',
        '--v=0',
        ...auditArgs,
      ],
      apiLogs,
    );
    await waitFor(
      'kube-apiserver',
      () => healthy('/readyz'),
      60_000,
      () => apiLogs.join(''),
    );
  };
  try {
    await waitFor(
      'etcd',
      async () => {
        const r = await fetch(`http://127.0.0.1:${etcdClient}/health`, { signal: AbortSignal.timeout(1000) });
        return r.status === 200;
      },
      20_000,
      () => etcdLogs.join(''),
    );
    await startApiserver();
  } catch (err) {
    await stopProcess(apiserver);
    await stopProcess(etcd);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: test',
      '  cluster:',
      `    server: ${server}`,
      `    certificate-authority: ${join(dir, 'ca.crt')}`,
      'users:',
      '- name: admin',
      '  user:',
      `    client-certificate: ${join(dir, 'admin.crt')}`,
      `    client-key: ${join(dir, 'admin.key')}`,
      'contexts:',
      '- name: test',
      '  context:',
      '    cluster: test',
      '    user: admin',
      '    namespace: default',
      'current-context: test',
      '',
    ].join('\n'),
  );
  const kubectl: ControlPlane['kubectl'] = (args, kOpts = {}) =>
    new Promise((res, rej) => {
      const child = spawn(join(assetsDir, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', rej);
      child.on('close', (code) => {
        const result = { code: code ?? -1, stdout, stderr };
        if (code !== 0 && !kOpts.allowFailure) {
          rej(new Error(`kubectl ${args.join(' ')} failed (${code}): ${stderr}`));
        } else res(result);
      });
      // A command that exits without reading its stdin makes the write fail with EPIPE: not an error here.
      child.stdin.on('error', () => {});
      child.stdin.end(kOpts.input ?? '');
    });
  let stopped = false;
  const cp: ControlPlane = {
    kubeconfig,
    server,
    dir,
    assetsDir,
    kubectl,
    startupMs: 0,
    async restartApiserver() {
      await stopProcess(apiserver);
      await startApiserver();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // For the suite's leak check: what the cluster showed (a no-op outside the test suite).
      await keepClusterEvidence(kubectl).catch(() => undefined);
      await stopProcess(apiserver);
      await stopProcess(etcd);
      await agent.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  if (opts.applyCrds !== false) {
    await kubectl(['apply', '--server-side', '-f', join(repoRoot, 'crds')]);
    await kubectl(['wait', '--for=condition=Established', '--timeout=30s', '-f', join(repoRoot, 'crds')]);
  }
  cp.startupMs = Date.now() - t0;
  log(`control plane up in ${cp.startupMs} ms at ${server} (kubeconfig ${kubeconfig})`);
  return cp;
}

/** Creates a namespace for one test and returns its name. */
export async function testNamespace(cp: ControlPlane, prefix: string): Promise<string> {
  const ns = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  await cp.kubectl(['create', 'namespace', ns]);
  return ns;
}

export async function ensureDir(path: string): Promise<string> {
  await mkdir(path, { recursive: true });
  return path;
}
