#!/usr/bin/env node
/**
 * pitrix-operator / kubectl-pitrix entry point.
 *   run      the operator (kubeconfig from --kubeconfig, $KUBECONFIG, ~/.kube/config, or in-cluster)
 *   crds     write or print the CustomResourceDefinitions generated from src/api
 *   plan     print the plan for manifests without acting (a terraform-plan for the runbooks)
 */
import { parseArgs } from 'node:util';

const USAGE = `Usage: pitrix-operator <command> [flags]

Commands:
  run     Run the operator.
          --kubeconfig PATH            kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)
          --namespace NS               watch only this namespace (default: all)
          --metrics-bind-address H:P   /metrics, /healthz, /readyz (default 0.0.0.0:8080)
          --leader-elect               elect a leader on a Lease (default true; --no-leader-elect)
          --leader-election-namespace NS (default: $POD_NAMESPACE or pitrix-system)
          --lease-duration 15s  --renew-deadline 10s  --retry-period 2s
          --max-concurrent-reconciles N (default 4)
          --ssh-max-connections N      global bound on SSH connections (default 64)
          --ssh-connect-timeout 15s    --ssh-command-timeout 30m
          --log-level info|debug|warn
  crds    Print the CRDs, or write one file per kind with --out DIR.
  plan    Print the plan for manifests: plan -f FILE [--facts FILE | --kubeconfig PATH]
  plan|approve|pause|resume|status KIND/NAME   kubectl plugin (kubectl pitrix …; status --help)
  version Print the version.
`;

export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`${flag}: "${text}" is not a duration; use a number with ms, s, m or h, like 15s`);
  const n = Number(m[1]);
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run': {
      const { values } = parseArgs({
        args: rest,
        allowNegative: true,
        options: {
          kubeconfig: { type: 'string' },
          namespace: { type: 'string' },
          'metrics-bind-address': { type: 'string', default: '0.0.0.0:8080' },
          'leader-elect': { type: 'boolean', default: true },
          'leader-election-namespace': { type: 'string' },
          'leader-election-id': { type: 'string', default: 'pitrix-operator-leader' },
          'lease-duration': { type: 'string', default: '15s' },
          'renew-deadline': { type: 'string', default: '10s' },
          'retry-period': { type: 'string', default: '2s' },
          'max-concurrent-reconciles': { type: 'string', default: '4' },
          'ssh-max-connections': { type: 'string', default: '64' },
          'ssh-connect-timeout': { type: 'string', default: '15s' },
          'ssh-command-timeout': { type: 'string', default: '30m' },
          'resync-period': { type: 'string', default: '10m' },
          'log-level': { type: 'string' },
        },
      });
      const { runOperator } = await import('./run.js');
      const [host, port] = splitHostPort(values['metrics-bind-address']!);
      await runOperator({
        kubeconfig: values.kubeconfig,
        namespace: values.namespace,
        metricsHost: host,
        metricsPort: port,
        leaderElect: values['leader-elect']!,
        leaderElectionNamespace:
          values['leader-election-namespace'] ?? process.env.POD_NAMESPACE ?? 'pitrix-system',
        leaderElectionId: values['leader-election-id']!,
        leaseDurationMs: parseDuration(values['lease-duration']!, '--lease-duration'),
        renewDeadlineMs: parseDuration(values['renew-deadline']!, '--renew-deadline'),
        retryPeriodMs: parseDuration(values['retry-period']!, '--retry-period'),
        maxConcurrentReconciles: positiveInt(
          values['max-concurrent-reconciles']!,
          '--max-concurrent-reconciles',
        ),
        sshMaxConnections: positiveInt(values['ssh-max-connections']!, '--ssh-max-connections'),
        sshConnectTimeoutMs: parseDuration(values['ssh-connect-timeout']!, '--ssh-connect-timeout'),
        sshCommandTimeoutMs: parseDuration(values['ssh-command-timeout']!, '--ssh-command-timeout'),
        resyncMs: parseDuration(values['resync-period']!, '--resync-period'),
        logLevel: values['log-level'],
      });
      return 0;
    }
    case 'crds': {
      const { values } = parseArgs({ args: rest, options: { out: { type: 'string' } } });
      const { crdsCommand } = await import('./crds.js');
      await crdsCommand({ out: values.out });
      return 0;
    }
    case 'approve':
    case 'pause':
    case 'resume':
    case 'status': {
      const { pluginCommand, terminalConfirm } = await import('./kubectl-plugin.js');
      return pluginCommand(command, rest, { confirm: terminalConfirm() });
    }
    case 'plan': {
      if (!rest.some((a) => /^(-f|--file)(=|$)/.test(a) || /^-f./.test(a))) {
        const { pluginCommand } = await import('./kubectl-plugin.js');
        return pluginCommand(command, rest);
      }
      const { planCommand } = await import('./plan.js');
      return planCommand(rest);
    }
    case 'version':
      console.log('pitrix-operator 0.1.0');
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

function splitHostPort(v: string): [string, number] {
  const i = v.lastIndexOf(':');
  const port = Number(v.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--metrics-bind-address: "${v}" is not HOST:PORT, like 0.0.0.0:8080`);
  }
  return [v.slice(0, i) || '0.0.0.0', port];
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: "${v}" must be a positive integer`);
  return n;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`pitrix-operator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
