/**
 * A scripted platform for engine and controller unit tests: each command's answers are consumed in
 * order (the last one repeats); an Error is thrown as the transport's failure. Unscripted commands
 * exit 0 with no output. `ran` lists every script sent, in order.
 */
import type { ExecResult, Executor } from '../../src/ssh/types.js';

export function scripted(answers: Record<string, Array<Partial<ExecResult> | Error>> = {}) {
  const ran: string[] = [];
  const executor: Executor = {
    async exec(_t, c): Promise<ExecResult> {
      ran.push(c.script);
      const seq = answers[c.script] ?? [{}];
      const a = seq.length > 1 ? seq.shift()! : seq[0]!;
      if (a instanceof Error) throw a;
      return {
        host: 'fb',
        purpose: c.purpose,
        exitCode: 0,
        signal: null,
        durationMs: 1,
        stdout: '',
        stderr: '',
        truncated: false,
        ...a,
      };
    },
  };
  return { executor, ran };
}
