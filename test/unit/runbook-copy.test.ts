/**
 * docs/runbooks is a copy of the runbook translations (../shared/seeds-en, the authority beside the
 * repository), so a clone alone can check the coverage ledger. Where the authority is present, the
 * copy must be byte-identical to it: a changed runbook is copied in, and the ledger then says which
 * of its lines need classifying. A clone without ../shared checks the copy as committed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SEEDS_EN, SHARED_SEEDS_EN } from '../helpers/runbook-lines.js';

const shared = fileURLToPath(SHARED_SEEDS_EN);
const copy = fileURLToPath(SEEDS_EN);
const md = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.md'))
    .sort();

describe('docs/runbooks, the committed copy of the runbook translations', () => {
  it.runIf(existsSync(shared))('equals ../shared/seeds-en file for file, byte for byte', () => {
    expect(md(copy)).toEqual(md(shared));
    for (const f of md(shared))
      expect(
        readFileSync(`${copy}${f}`, 'utf8'),
        `docs/runbooks/${f}: copy it again from ../shared/seeds-en`,
      ).toBe(readFileSync(`${shared}${f}`, 'utf8'));
  });

  it('holds every runbook the ledger covers', () => {
    expect(md(copy)).toEqual(
      expect.arrayContaining([
        '000-tag-service.md',
        '002-boss-v2.md',
        '003-scale-out.md',
        '004-webservice-rebuild.md',
      ]),
    );
  });
});
