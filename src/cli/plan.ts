/** `pitrix-operator plan`: placeholder until the plan command lands (see README). */
export async function planCommand(_args: string[]): Promise<number> {
  process.stderr.write('plan: not implemented yet\n');
  return 2;
}
