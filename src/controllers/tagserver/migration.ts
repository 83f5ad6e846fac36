/**
 * Runbook R1 steps 6-7 and the tag model of R2, as pure functions: the probe response
 * (`DescribeTagsResponse`, a Python dict repr), the migration summary line, the pre-flight audit
 * (predicted warnings, tags that break the R2 model) and the verdict on a zone's migration.
 */

export const MAX_TAG_LENGTH = 2048;

// ---- Python literal (dict repr) -------------------------------------------------------------

export class PyLiteralError extends Error {
  override name = 'PyLiteralError';
}

/** Parses a Python literal as `repr()` prints it: dicts, lists, tuples, str, int, float, None, True, False. */
export function parsePyLiteral(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const fail = (what: string): never => {
    throw new PyLiteralError(`${what} at offset ${i}: ${JSON.stringify(text.slice(i, i + 20))}`);
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') return container('}', true);
    if (c === '[') return container(']', false);
    if (c === '(') return container(')', false);
    if (c === "'" || c === '"') return str();
    if ((c === 'u' || c === 'b') && (text[i + 1] === "'" || text[i + 1] === '"')) {
      i++;
      return str();
    }
    const m = /^(None|True|False|-?\d+(\.\d+)?([eE][-+]?\d+)?)/.exec(text.slice(i, i + 40));
    if (!m) return fail('unexpected token');
    i += m[0].length;
    if (m[0] === 'None') return null;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    return Number(m[0]);
  };
  const container = (close: string, dict: boolean): unknown => {
    i++;
    const obj: Record<string, unknown> = {};
    const arr: unknown[] = [];
    for (;;) {
      ws();
      if (text[i] === close) {
        i++;
        return dict ? obj : arr;
      }
      if (dict) {
        const k = value();
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        obj[String(k)] = value();
      } else arr.push(value());
      ws();
      if (text[i] === ',') i++;
      else if (text[i] !== close) fail(`expected "," or "${close}"`);
    }
  };
  const str = (): string => {
    const q = text[i]!;
    i++;
    let out = '';
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text[i]!;
      if (c === q) {
        i++;
        return out;
      }
      if (c !== '\\') {
        out += c;
        i++;
        continue;
      }
      const n = text[i + 1];
      i += 2;
      const simple: Record<string, string> = {
        n: '\n',
        t: '\t',
        r: '\r',
        '\\': '\\',
        "'": "'",
        '"': '"',
        '0': '\0',
      };
      if (n !== undefined && simple[n] !== undefined) out += simple[n];
      else if (n === 'x' || n === 'u' || n === 'U') {
        const len = n === 'x' ? 2 : n === 'u' ? 4 : 8;
        const hex = text.slice(i, i + len);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) fail('bad escape');
        out += String.fromCodePoint(Number.parseInt(hex, 16));
        i += len;
      } else out += `\\${n ?? ''}`;
    }
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing text');
  return v;
}

// ---- probe response ----------------------------------------------------------------------------

export interface ProbeTag {
  tagId: string;
  tagName: string;
  owner: string;
  zoneId?: string;
  resourceCount?: number;
}

export interface Probe {
  totalCount: number;
  tags: ProbeTag[];
}

/** Finds and parses the `DescribeTagsResponse` line of a migration run (or of `-a describe`). */
export function parseProbe(output: string): Probe {
  const line = output.split('\n').find((l) => l.includes("'action': 'DescribeTagsResponse'"));
  if (!line) throw new PyLiteralError('no DescribeTagsResponse in the output');
  const start = line.indexOf('{');
  const resp = parsePyLiteral(line.slice(start).trim()) as Record<string, unknown>;
  if (resp.ret_code !== 0)
    throw new PyLiteralError(
      `DescribeTagsResponse ret_code ${String(resp.ret_code)}: ${String(resp.message ?? '')}`,
    );
  if (typeof resp.total_count !== 'number')
    throw new PyLiteralError('DescribeTagsResponse has no total_count');
  const set = Array.isArray(resp.tag_set) ? (resp.tag_set as Record<string, unknown>[]) : [];
  return {
    totalCount: resp.total_count,
    tags: set.map((t) => ({
      tagId: String(t.tag_id ?? ''),
      tagName: String(t.tag_name ?? ''),
      owner: String(t.owner ?? t.root_user_id ?? ''),
      ...(typeof t.zone_id === 'string' ? { zoneId: t.zone_id } : {}),
      ...(typeof t.resource_count === 'number' ? { resourceCount: t.resource_count } : {}),
    })),
  };
}

// ---- migration output --------------------------------------------------------------------------

export interface MigrationCounts {
  /** `There are N tag items to migrate.` (the probe's total_count). */
  totalCount?: number;
  inserted: number;
  updated: number;
  errors: number;
  warnings: number;
  resourceInserted: number;
  resourceUpdated: number;
  resourceErrors: number;
  allDone: boolean;
}

const SUMMARY =
  /^\s*tag:\s*(\d+)\s*\+\s*(\d+)\s*\^\s*(\d+)\s*X\s*(\d+)\s*W\s+resource_tag:\s*(\d+)\s*\+\s*(\d+)\s*\^\s*(\d+)\s*X\s*$/m;
const TOTAL = /^\s*There are (\d+) tag items to migrate\.\s*$/m;

/** True once the script got past its probe and started migrating (so it must not run again by itself). */
export function migrationStarted(output: string): boolean {
  return TOTAL.test(output) || SUMMARY.test(output);
}

/** The summary of a migration run, or undefined when it printed none (it did not finish). */
export function parseMigrationOutput(output: string): MigrationCounts | undefined {
  const m = SUMMARY.exec(output);
  if (!m) return undefined;
  const total = TOTAL.exec(output);
  const n = (k: number) => Number(m[k]);
  return {
    ...(total ? { totalCount: Number(total[1]) } : {}),
    inserted: n(1),
    updated: n(2),
    errors: n(3),
    warnings: n(4),
    resourceInserted: n(5),
    resourceUpdated: n(6),
    resourceErrors: n(7),
    allDone: /^\s*All done\.\s*$/m.test(output),
  };
}

// ---- pre-flight audit ----------------------------------------------------------------------------

export interface ModelViolation {
  tagId: string;
  problem: string;
}

export interface ZoneAudit {
  totalCount: number;
  /** Tags of this zone whose owner already holds a tag of the same name in a zone migrated before. */
  predictedWarnings: number;
  sameName: string[];
  violations: ModelViolation[];
}

/** R2: a tag is at most 2048 characters; a `::` system tag is `key::value[::...]` with no empty part. */
export function modelProblem(name: string): string | undefined {
  if (name.length > MAX_TAG_LENGTH) return `longer than ${MAX_TAG_LENGTH} characters (${name.length})`;
  if (name.includes('::')) {
    const parts = name.split('::');
    if (parts.some((p) => p === '' || p.startsWith(':') || p.endsWith(':') || p.trim() !== p))
      return `malformed system tag ${JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name)} (empty or colon-edged part between '::')`;
  }
  return undefined;
}

const key = (t: ProbeTag) => `${t.owner}\u0000${t.tagName}`;

/**
 * Predicts each zone's warnings: migrating zones in `order`, a tag warns when its owner already
 * holds a same-named tag in another zone that is already in the tag service: one earlier in this
 * order, or one outside it that was migrated before (`alreadyMigrated`, with its probe given).
 */
export function auditTags(
  order: readonly string[],
  probes: Readonly<Record<string, Probe>>,
  alreadyMigrated: ReadonlySet<string> = new Set(),
): Record<string, ZoneAudit> {
  const out: Record<string, ZoneAudit> = {};
  const seen = new Map<string, string>(); // key -> zone it is in the service from
  for (const z of alreadyMigrated)
    if (!order.includes(z)) for (const t of probes[z]?.tags ?? []) seen.set(key(t), z);
  const earlier = (zone: string) => {
    const m = new Map(seen);
    for (const z of order) {
      if (z === zone) break;
      for (const t of probes[z]?.tags ?? []) if (!m.has(key(t))) m.set(key(t), z);
    }
    return m;
  };
  for (const zone of order) {
    const probe = probes[zone];
    if (!probe) continue;
    const before = earlier(zone);
    const sameName: string[] = [];
    let predicted = 0;
    for (const t of probe.tags) {
      const from = before.get(key(t));
      if (from === undefined || from === zone) continue;
      predicted++;
      if (sameName.length < 20) sameName.push(`${t.owner}/${t.tagName} (${t.tagId}; also in ${from})`);
    }
    const violations: ModelViolation[] = [];
    for (const t of probe.tags) {
      const p = modelProblem(t.tagName);
      if (p) violations.push({ tagId: t.tagId, problem: p });
    }
    out[zone] = { totalCount: probe.totalCount, predictedWarnings: predicted, sameName, violations };
  }
  return out;
}

// ---- verdict --------------------------------------------------------------------------------------

export interface Verdict {
  state: 'verified' | 'pending' | 'failed';
  /** What makes it fail: the original's rule or an error count. */
  problems: string[];
  /** Reported, never deciding: a warnings count other than the pre-flight predicted. */
  notes: string[];
}

/**
 * R1 (seed 000 line 84): success iff total_count == inserted + warnings, with no errors: `X` of
 * `tag` and of `resource_tag` (line 82: X counts entries where an error occurred; the original's
 * rule names neither, so any error fails, the fail-safe reading). The update pass (line 91)
 * reports no error and inserts nothing. A warnings count other than the pre-flight prediction is
 * a note: the prediction is ours, not the runbook's, so it never decides `verified`.
 */
export function judgeMigration(input: {
  insert?: MigrationCounts;
  /** The insert ran (its output shows it started) but printed no summary. */
  insertStartedWithoutSummary?: boolean;
  update?: MigrationCounts;
  predictedWarnings?: number;
  requireUpdatePass: boolean;
}): Verdict {
  const problems: string[] = [];
  const { insert, update } = input;
  if (!insert) {
    if (input.insertStartedWithoutSummary)
      return {
        state: 'failed',
        problems: ['the insert run started but printed no summary line (it did not finish)'],
        notes: [],
      };
    return { state: 'pending', problems: [], notes: [] };
  }
  problems.push(...insertProblems(insert));
  const notes = warningsNote(insert, input.predictedWarnings);
  if (update) {
    if (update.errors > 0) problems.push(`the update pass reported ${update.errors} tag error(s)`);
    if (update.resourceErrors > 0)
      problems.push(`the update pass reported ${update.resourceErrors} resource_tag error(s)`);
    if (update.inserted > 0)
      problems.push(`the update pass inserted ${update.inserted} tag(s); it must insert nothing`);
  }
  if (problems.length > 0) return { state: 'failed', problems, notes };
  if (input.requireUpdatePass && !update) return { state: 'pending', problems: [], notes };
  return { state: 'verified', problems: [], notes };
}

/** The original's rule on the insert run (seed 000 lines 76–84), plus the errors of both tables. */
export function insertProblems(insert: MigrationCounts): string[] {
  const problems: string[] = [];
  if (insert.errors > 0) problems.push(`${insert.errors} tag error(s) (X)`);
  if (insert.resourceErrors > 0) problems.push(`${insert.resourceErrors} resource_tag error(s) (X)`);
  if (insert.totalCount === undefined)
    problems.push('no total_count ("There are N tag items") in the output');
  else if (insert.totalCount !== insert.inserted + insert.warnings)
    problems.push(
      `total_count ${insert.totalCount} != inserted ${insert.inserted} + warnings ${insert.warnings} (${insert.totalCount - insert.inserted - insert.warnings} unaccounted)`,
    );
  if (!insert.allDone) problems.push('no "All done." line');
  return problems;
}

/** A warnings count other than the pre-flight prediction (reported only). */
export function warningsNote(insert: MigrationCounts, predictedWarnings?: number): string[] {
  return predictedWarnings !== undefined && insert.warnings !== predictedWarnings
    ? [
        `${insert.warnings} warning(s) (W) where the pre-flight audit predicted ${predictedWarnings}; the runbook's rule (total_count == inserted + warnings, no errors) decides, check the same-named tags`,
      ]
    : [];
}

export function countsText(c: MigrationCounts): string {
  return `total_count ${c.totalCount ?? '?'}, inserted ${c.inserted}, updated ${c.updated}, errors ${c.errors}, warnings ${c.warnings}`;
}
