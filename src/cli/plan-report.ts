/**
 * What `plan` reports per resource, in one shape for every kind and every output format: text for
 * a terminal, JSON or YAML for a CI job that posts the plan on a pull request.
 */
import { stringify } from 'yaml';
import type { Preview } from '../controllers/preview.js';
import { hostLabel, type PlannedRunbook } from '../runbook/step.js';

export interface PlanReport {
  kind: string;
  namespace: string;
  name: string;
  /** plan: what would run; refused: a rule stops it; nothing: no plan (with why); error: could not look. */
  outcome: 'plan' | 'refused' | 'nothing' | 'error';
  hash?: string;
  approval?: 'Automatic' | 'Manual';
  steps?: Array<{ id: string; host: string; description: string; destructive: boolean; command: string }>;
  violations?: Array<{ reason: string; message: string }>;
  reason?: string;
  message?: string;
  /** Per-node findings of the offline NodePool plan (unreachable or rejected nodes). */
  notes?: string[];
}

export type OutputFormat = 'text' | 'json' | 'yaml';

export function planSteps(plan: PlannedRunbook): NonNullable<PlanReport['steps']> {
  return plan.steps.map((s) => ({
    id: s.id,
    host: hostLabel(s.host),
    description: s.description,
    destructive: !!s.destructive,
    command: s.command.script,
  }));
}

export function reportOf(base: Pick<PlanReport, 'kind' | 'namespace' | 'name'>, p: Preview): PlanReport {
  if (p.kind === 'plan')
    return { ...base, outcome: 'plan', hash: p.plan.hash, approval: p.approval, steps: planSteps(p.plan) };
  if (p.kind === 'refused') return { ...base, outcome: 'refused', violations: p.violations };
  return { ...base, outcome: 'nothing', reason: p.reason, message: p.message };
}

export function renderReports(reports: readonly PlanReport[], format: OutputFormat): string {
  if (format === 'json') return `${JSON.stringify(reports, null, 2)}\n`;
  if (format === 'yaml') return stringify(reports, { lineWidth: 0 });
  if (reports.length === 0) return 'no resource of a known kind in the manifests\n';
  return reports.map(renderText).join('');
}

function renderText(r: PlanReport): string {
  const title = `${r.kind} ${r.name}`;
  const lines: string[] = [];
  for (const n of r.notes ?? []) lines.push(`${title}: ${n}`);
  for (const v of r.violations ?? []) lines.push(`${title}: REFUSED (${v.reason}): ${v.message}`);
  if (r.outcome === 'nothing' || r.outcome === 'error')
    lines.push(`${title}: no plan (${r.reason ?? 'unknown'}${r.message ? `: ${r.message}` : ''})`);
  if (r.outcome === 'plan' && r.steps) {
    if (r.steps.length === 0) lines.push(`${title}: nothing to do`);
    else {
      lines.push(
        `${title}: plan ${r.hash}, ${r.steps.length} step(s)${r.approval === 'Manual' ? ', awaits approval' : ''}`,
      );
      r.steps.forEach((s, i) => {
        lines.push(
          `  ${String(i + 1).padStart(2)}. ${s.id}  [${s.host}]${s.destructive ? '  DESTRUCTIVE' : ''}`,
        );
        lines.push(`      ${s.description}`);
        for (const l of s.command.split('\n')) lines.push(`      $ ${l}`);
      });
    }
  }
  return `${lines.join('\n')}\n`;
}
