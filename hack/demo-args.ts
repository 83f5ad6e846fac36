/**
 * The arguments of `npm run demo` (hack/demo.ts), apart from it so that a test can check them
 * without starting anything.
 */
import { parseArgs } from 'node:util';

/** The runbooks the demo shows, in the order `--runbook all` runs them. */
export const RUNBOOKS = {
  r1: 'R1 tag service and tag migration: TagServer examples/tagserver.yaml on sim/region.yaml',
  r3: 'R3 BOSS V2: Components examples/component-{cronus,boss}.yaml on sim/boss-v1.yaml',
  r4: 'R4 scale-out (the default): NodePool examples/nodepool-hyper.yaml on sim/standard.yaml',
  r5: 'R5 webservice rebuild: WebserviceUpgrade examples/webservice-upgrade.yaml on sim/region.yaml',
} as const;
export type Runbook = keyof typeof RUNBOOKS;
export const RUNBOOK_CHOICES = [...(Object.keys(RUNBOOKS) as Runbook[]), 'all'] as const;

export interface DemoArgs {
  runbooks: Runbook[];
  all: boolean;
  keep: boolean;
  /** Seconds each wait of a runbook may take. */
  timeoutS: number;
}

export function usage(): string {
  return [
    `usage: npm run demo -- [--runbook ${RUNBOOK_CHOICES.join('|')}] [--keep] [--timeout SECONDS]`,
    '',
    'Starts a local control plane, the simulated platform (examples/sim/) and the operator, applies',
    'the example resources of a runbook and prints their progress until they converge; where the',
    'runbook waits for a person, it shows what is asked and the command it runs in your place.',
    '',
    '  --runbook NAME     which runbook (default r4):',
    ...Object.entries(RUNBOOKS).map(([k, v]) => `      ${k}   ${v}`),
    '      all  each of them, one after another, then a summary line per runbook with its time',
    '  --keep             keep everything running afterwards (Ctrl-C stops it)',
    '  --timeout SECONDS  how long each wait may take (default 300)',
    '  --help             this text',
  ].join('\n');
}

/** What to run, `help` for --help, or an error message (the caller prints it with the usage, exit 2). */
export function parseDemoArgs(argv: string[]): DemoArgs | 'help' | { error: string } {
  let values: { runbook?: string; keep?: boolean; timeout?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        runbook: { type: 'string', default: 'r4' },
        keep: { type: 'boolean', default: false },
        timeout: { type: 'string', default: '300' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return { error: (err as Error).message };
  }
  if (values.help) return 'help';
  const runbook = String(values.runbook).toLowerCase();
  if (!(RUNBOOK_CHOICES as readonly string[]).includes(runbook))
    return { error: `unknown runbook '${values.runbook}': use one of ${RUNBOOK_CHOICES.join(', ')}` };
  const timeoutS = Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0)
    return { error: `--timeout takes a number of seconds, not '${values.timeout}'` };
  const all = runbook === 'all';
  return {
    runbooks: all ? (Object.keys(RUNBOOKS) as Runbook[]) : [runbook as Runbook],
    all,
    keep: values.keep === true,
    timeoutS,
  };
}
