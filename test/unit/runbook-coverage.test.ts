/**
 * Issue 13: every command of each runbook appears in a golden plan, or in the ledger as file
 * content, a sample output, an equivalent the operator runs instead, a step deliberately left to a
 * person (where that is written down) or, loudly, as missing. The ledger is
 * docs/runbook-coverage.yaml; the runbooks are the translations in docs/runbooks, a copy of ../shared/seeds-en (their code
 * blocks are the originals' verbatim), read by test/helpers/runbook-lines.ts.
 *
 * Fails when a runbook line has no entry (a new line must be classified), when an entry's text is
 * no longer at its line, when a golden no longer has an entry's step or fragment, or when a file an
 * entry cites no longer says what it quotes. Prints one summary line per runbook.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  indexCommands,
  RUNBOOKS,
  type RunbookLine,
  readRunbook,
  runbookLines,
  stripAnnotation,
} from '../helpers/runbook-lines.js';

const ROOT = new URL('../../', import.meta.url);
const LEDGER_PATH = 'docs/runbook-coverage.yaml';

const KINDS = ['content', 'output', 'adapted', 'human', 'missing'] as const;
type Kind = (typeof KINDS)[number] | 'plan';
const KEYS = new Set(['line', 'text', 'step', 'golden', 'contains', 'ref', 'says', 'note', ...KINDS]);

interface Entry {
  line: number;
  text: string;
  step?: string;
  golden?: string;
  contains?: string | string[];
  content?: string;
  output?: string;
  adapted?: string;
  human?: string;
  missing?: string;
  ref?: string;
  says?: string;
  note?: string;
}
interface RunbookLedger {
  lines: Entry[];
  instructions?: Entry[];
}

const ledger = parse(readFileSync(new URL(LEDGER_PATH, ROOT), 'utf8')) as Record<string, RunbookLedger>;

const kindOf = (e: Entry): Kind => KINDS.find((k) => e[k] !== undefined) ?? 'plan';
const where = (file: string, line: number) => `${file.slice(0, 3)}:${line}`;

/** What is wrong with an entry's shape (which fields go together). */
function shapeProblems(file: string, e: Entry): string[] {
  const at = `${LEDGER_PATH} ${where(file, e.line)}`;
  const out: string[] = [];
  for (const k of Object.keys(e)) if (!KEYS.has(k)) out.push(`${at}: unknown key ${k}`);
  if (!Number.isInteger(e.line) || typeof e.text !== 'string' || e.text === '')
    out.push(`${at}: needs line and text`);
  const kinds = KINDS.filter((k) => e[k] !== undefined);
  if (kinds.length > 1) out.push(`${at}: one of ${KINDS.join(', ')} at most, not ${kinds.join(' and ')}`);
  for (const k of kinds)
    if (typeof e[k] !== 'string' || e[k] === '') out.push(`${at}: ${k} must say what, how or why`);
  const golden = [e.step, e.golden, e.contains].filter((v) => v !== undefined).length;
  if (golden !== 0 && golden !== 3) out.push(`${at}: step, golden and contains go together`);
  if ((e.ref === undefined) !== (e.says === undefined)) out.push(`${at}: ref and says go together`);
  const kind = kindOf(e);
  if ((kind === 'plan' || kind === 'content' || kind === 'output') && golden !== 3)
    out.push(`${at}: ${kind === 'plan' ? 'an entry in a plan' : kind} needs step, golden and contains`);
  if (kind === 'adapted' && golden !== 3 && e.ref === undefined)
    out.push(
      `${at}: adapted needs the step that runs the equivalent (step, golden, contains) or ref and says`,
    );
  if (kind === 'human' && e.ref === undefined)
    out.push(`${at}: human needs ref and says: where it is written down as left to a person`);
  return out;
}

// ---- goldens -----------------------------------------------------------------------------------

const HEADER = /^([A-Za-z][\w.:-]*) @(firstbox|\d+\.\d+\.\d+\.\d+)( \[destructive\])?$/;
const goldens = new Map<string, Map<string, string> | undefined>();

/** A golden's steps by id: each step's block (`id @host`, its command and `check:` lines). */
function goldenSteps(name: string): Map<string, string> | undefined {
  if (goldens.has(name)) return goldens.get(name);
  const [controller, file, ...rest] = name.split('/');
  const url = new URL(`src/controllers/${controller}/__golden__/${file}`, ROOT);
  let steps: Map<string, string> | undefined;
  if (controller && file && rest.length === 0 && existsSync(url)) {
    steps = new Map();
    let id: string | undefined;
    for (const line of readFileSync(url, 'utf8').split('\n')) {
      const m = HEADER.exec(line);
      if (m) {
        id = m[1]!;
        steps.set(id, steps.has(id) ? `${steps.get(id)}\n${line}` : line);
      } else if (id) steps.set(id, `${steps.get(id)}\n${line}`);
    }
  }
  goldens.set(name, steps);
  return steps;
}

function goldenProblems(file: string, e: Entry): string[] {
  if (e.step === undefined || e.golden === undefined || e.contains === undefined) return [];
  const at = `${where(file, e.line)} ${JSON.stringify(e.text)}`;
  const steps = goldenSteps(e.golden);
  if (!steps)
    return [`${at}: golden ${e.golden} not found (CONTROLLER/FILE under src/controllers/*/__golden__/)`];
  const block = steps.get(e.step);
  if (block === undefined) return [`${at}: golden ${e.golden} has no step ${e.step}`];
  const fragments = Array.isArray(e.contains) ? e.contains : [e.contains];
  return fragments
    .filter((f) => typeof f !== 'string' || f === '' || !block.includes(f))
    .map((f) => `${at}: step ${e.step} of ${e.golden} does not contain ${JSON.stringify(f)}`);
}

function refProblems(file: string, e: Entry): string[] {
  if (e.ref === undefined || e.says === undefined) return [];
  const at = `${where(file, e.line)} ${JSON.stringify(e.text)}`;
  const url = new URL(e.ref, ROOT);
  if (!existsSync(url)) return [`${at}: ref ${e.ref} not found`];
  return readFileSync(url, 'utf8').includes(e.says)
    ? []
    : [`${at}: ${e.ref} no longer says ${JSON.stringify(e.says)}`];
}

// ---- the tests ---------------------------------------------------------------------------------

const summaries: string[] = [];
const loud: string[] = [];

afterAll(() => {
  if (summaries.length > 0) console.log(`runbook coverage (${LEDGER_PATH}):\n${summaries.join('\n')}`);
  if (loud.length > 0)
    console.warn(
      `!!! ${loud.length} runbook command(s) the operator does not do and nothing leaves to a person:\n${loud.join('\n')}`,
    );
});

describe('runbook coverage ledger', () => {
  it('covers exactly the runbooks (001 is a design article and names no platform command)', () => {
    expect(Object.keys(ledger).sort()).toEqual([...RUNBOOKS].sort());
    // 001's code blocks are ZStack CLI examples (QuerySystemTag …), not commands of this platform:
    // if it ever names a pitrix tool, it needs a ledger of its own.
    const design = runbookLines('001-tag-system-design.md');
    expect(
      design.filter((l) => l.source === 'inline' || /pitrix|\/(cli|bin|upgrade)\//.test(l.text)),
    ).toEqual([]);
  });

  describe.each(RUNBOOKS.map((f) => [f]))('%s', (file) => {
    const entries = ledger[file]?.lines ?? [];
    const instructions = ledger[file]?.instructions ?? [];
    const lines: RunbookLine[] = runbookLines(file);

    it('every entry has a valid shape', () => {
      expect([...entries, ...instructions].flatMap((e) => shapeProblems(file, e))).toEqual([]);
    });

    it('every code line and inline command has an entry, and every entry is still a line of the runbook', () => {
      const byLine = new Map<number, Entry>();
      const problems: string[] = [];
      for (const e of entries) {
        if (byLine.has(e.line)) problems.push(`${where(file, e.line)}: two entries for one line`);
        byLine.set(e.line, e);
      }
      const found = new Set<number>();
      for (const l of lines) {
        found.add(l.line);
        const e = byLine.get(l.line);
        if (!e)
          problems.push(
            `${where(file, l.line)} ${JSON.stringify(l.text)}: no entry in ${LEDGER_PATH}; classify it`,
          );
        else if (e.text !== l.text)
          problems.push(
            `${where(file, l.line)}: the ledger says ${JSON.stringify(e.text)}, the runbook ${JSON.stringify(l.text)}`,
          );
      }
      for (const e of entries)
        if (!found.has(e.line)) {
          const now = lines.filter((l) => l.text === e.text).map((l) => where(file, l.line));
          problems.push(
            `${where(file, e.line)} ${JSON.stringify(e.text)}: no longer a code line or command there${now.length ? ` (now at ${now.join(', ')})` : ' (not in the runbook)'}`,
          );
        }
      expect(problems).toEqual([]);
    });

    it("every instruction's text is still on its line", () => {
      const src = readRunbook(file).split('\n');
      expect(
        instructions
          .filter((e) => !stripAnnotation(src[e.line - 1] ?? '').includes(e.text))
          .map((e) => `${where(file, e.line)} ${JSON.stringify(e.text)}: not on that line of the runbook`),
      ).toEqual([]);
    });

    it('every step and fragment cited is in its golden plan', () => {
      expect([...entries, ...instructions].flatMap((e) => goldenProblems(file, e))).toEqual([]);
    });

    it('every file cited still says what the entry quotes', () => {
      expect([...entries, ...instructions].flatMap((e) => refProblems(file, e))).toEqual([]);
    });

    it("misses no command of the runbook's closing index", () => {
      const texts = new Set(lines.map((l) => l.text.trim()));
      expect(
        indexCommands(file).filter((c) => !texts.has(c) && !instructions.some((e) => e.text.includes(c))),
      ).toEqual([]);
    });

    it('prints its summary (the checks above decide)', () => {
      const count = (list: Entry[], k: Kind) => list.filter((e) => kindOf(e) === k).length;
      const short = file.slice(0, 3);
      summaries.push(
        `${file}: ${entries.length} lines: ${count(entries, 'plan')} in a plan, ${count(entries, 'content')} content, ` +
          `${count(entries, 'output')} output, ${count(entries, 'adapted')} adapted, ${count(entries, 'human')} left to a human, ` +
          `${count(entries, 'missing')} MISSING; ${instructions.length} instructions in prose: ` +
          `${count(instructions, 'plan')} in a plan, ${count(instructions, 'content')} content, ${count(instructions, 'adapted')} adapted, ` +
          `${count(instructions, 'human')} left to a human, ${count(instructions, 'missing')} MISSING`,
      );
      for (const e of [...entries, ...instructions].filter((x) => x.missing !== undefined))
        loud.push(`  MISSING ${short}:${e.line} ${JSON.stringify(e.text)}: ${e.missing}`);
    });
  });
});
