/**
 * The lines of the runbooks (docs/runbooks/NNN-*.md, a copy of ../shared/seeds-en kept identical by
 * test/unit/runbook-copy.test.ts) that docs/runbook-coverage.yaml must
 * classify, with their file and line number: every line inside a fenced code block, and every
 * command written as inline code in the running text (most of seed 003's commands are inline, e.g.
 * `/pitrix/cli/add-nodes.py -I /root/ip_list`). The translator's additions are not the original's
 * and are skipped: the `[note …]` lines, and the closing section "## Exact commands and files in
 * this runbook" (an index of what the body names; used below only to check the extraction misses
 * no command of it).
 */
import { existsSync, readFileSync } from 'node:fs';

/**
 * The translations, committed with the code so a clone alone can check the ledger (CI clones the
 * repository without what lies beside it).
 */
export const SEEDS_EN = new URL('../../docs/runbooks/', import.meta.url);
/** Where the authority lives, beside the repository, when it is there: the copy must equal it. */
export const SHARED_SEEDS_EN = new URL('../../../shared/seeds-en/', import.meta.url);

/** The runbooks the ledger covers. 001 (R2) is a design article about ZStack's tag model, not a runbook. */
export const RUNBOOKS = [
  '000-tag-service.md',
  '002-boss-v2.md',
  '003-scale-out.md',
  '004-webservice-rebuild.md',
] as const;

export const INDEX_HEADING = '## Exact commands and files in this runbook';
const ANNOTATION = '  # [en:';

export interface RunbookLine {
  file: string;
  /** 1-based line number in the seeds-en file. */
  line: number;
  /** The original's text: code lines with the `  # [en: …]` translation removed, trailing blanks trimmed. */
  text: string;
  /** `code` (a line of a fenced block) or `inline` (a command in inline code in the running text). */
  source: 'code' | 'inline';
}

export function readRunbook(file: string): string {
  const url = new URL(file, SEEDS_EN);
  if (!existsSync(url))
    throw new Error(
      `${url.pathname} not found: the runbook coverage ledger is checked against the translations in docs/runbooks (copied from ../shared/seeds-en)`,
    );
  return readFileSync(url, 'utf8');
}

/** Delete from `  # [en:` to the end of the line: the original line, byte for byte (seeds-en/README.md). */
export function stripAnnotation(line: string): string {
  const i = line.indexOf(ANNOTATION);
  return i < 0 ? line : line.slice(0, i);
}

/**
 * A command, as opposed to a path, a key or a file name: a script of the platform (`/pitrix/cli/…`,
 * `/pitrix/bin/…`, any `….py`/`….sh` named by its path, `./TOOL`), `. FILE` (source), or a shell
 * command the runbooks type (`cp`, `vim`, `ssh`, …). Files under `/pitrix/conf/` are configuration.
 */
export function isCommand(text: string): boolean {
  const t = text.trim();
  if (t.startsWith('/pitrix/conf/')) return false; // configuration (`web_console_settings.py`), not a tool
  return (
    /^\.?\/\S*\.(py|sh)(\s|$)/.test(t) ||
    /^\.\/[\w.-]+(\s|$)/.test(t) ||
    /^\/pitrix\/(cli|bin|build|upgrade|install|node|lib)\/\S+/.test(t) ||
    /^\.\s+\/\S+/.test(t) ||
    /^(cp|vim|ssh|ssh-keygen|rsync|scp|mkdir|rm|mv|cd|supervisorctl|service|virsh|shutdown)\s/.test(t)
  );
}

/** The translator's lines: the file's heading note and the `[note …]` paragraphs. */
function translatorsLine(line: string): boolean {
  return /^\[(note|notes|Translation)\b/.test(line.trim());
}

/**
 * The lines to classify: code-block lines without their annotation, blank and pure comment lines
 * dropped; inline-code commands of the running text. The index section at the end is not read.
 */
export function runbookLines(file: string, text = readRunbook(file)): RunbookLine[] {
  const out: RunbookLine[] = [];
  const lines = text.split('\n');
  let fence = false;
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    if (!fence && raw.startsWith(INDEX_HEADING)) break;
    if (/^\s*```/.test(raw)) {
      fence = !fence;
      continue;
    }
    if (fence) {
      const t = stripAnnotation(raw).trimEnd();
      if (t.trim() === '' || t.trim().startsWith('#')) continue;
      out.push({ file, line, text: t, source: 'code' });
      continue;
    }
    if (translatorsLine(raw)) continue;
    for (const m of raw.matchAll(/`([^`]+)`/g))
      if (isCommand(m[1]!)) out.push({ file, line, text: m[1]!, source: 'inline' });
  }
  if (fence) throw new Error(`${file}: a code block is not closed`);
  return out;
}

/** The commands of the closing index section (verbatim from the body), to check the extraction. */
export function indexCommands(file: string, text = readRunbook(file)): string[] {
  const at = text.indexOf(`\n${INDEX_HEADING}`);
  if (at < 0) throw new Error(`${file}: no "${INDEX_HEADING}" section`);
  const out: string[] = [];
  let fence = false;
  for (const raw of text.slice(at).split('\n')) {
    if (/^\s*```/.test(raw)) {
      fence = !fence;
      continue;
    }
    if (fence && isCommand(raw)) out.push(raw.trim());
  }
  return out;
}
