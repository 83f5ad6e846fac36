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

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run': {
      const { parseRunArgs, runOperator } = await import('./run.js');
      await runOperator(parseRunArgs(rest));
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

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`pitrix-operator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
