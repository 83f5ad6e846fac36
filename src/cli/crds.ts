/** `pitrix-operator crds`: writes the generated CRDs to a directory, or prints them. */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GROUP } from '../api/common.js';
import { renderCrds } from '../api/crd.js';
import { RUNBOOKS } from '../controllers/registry.js';

export async function crdsCommand(args: { out?: string }): Promise<void> {
  // One CRD per registered runbook (the registry decides which kinds the operator serves).
  const crds = renderCrds(RUNBOOKS.map((r) => r.info));
  if (!args.out) {
    process.stdout.write(crds.map((c) => c.yaml).join('---\n'));
    return;
  }
  await mkdir(args.out, { recursive: true });
  // A renamed or removed kind must not leave its old CRD behind for `kubectl apply -f crds/`.
  const wanted = new Set(crds.map((c) => c.fileName));
  for (const f of await readdir(args.out)) {
    if (f.startsWith(`${GROUP}_`) && f.endsWith('.yaml') && !wanted.has(f)) await rm(join(args.out, f));
  }
  for (const c of crds) await writeFile(join(args.out, c.fileName), c.yaml);
  process.stderr.write(`wrote ${crds.length} CRDs to ${args.out}\n`);
}
