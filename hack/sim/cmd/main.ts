/**
 * Entry of the command bundle every shim execs: `simcmd.mjs NAME ARGS...`. `@wrapper` is the
 * sshd ForceCommand. Bundled once per platform start (esbuild) so an invocation costs one Node
 * startup and no TypeScript work.
 */

import { readConfig } from '../store.js';
import { type StrictMode, strictRefusal } from '../strict.js';
import { BOSS_COMMANDS } from './boss.js';
import { CmdError, err, SERVICES } from './ctx.js';
import { jobLog, jobStatus } from './jobs.js';
import { NET_COMMANDS } from './net.js';
import { NODE_COMMANDS } from './node.js';
import { NODE_LIST_COMMANDS } from './nodes.js';
import { PACKAGE_COMMANDS } from './packages.js';
import { SCALE_COMMANDS } from './scale.js';
import { migrate } from './tag.js';
import { VM_COMMANDS } from './vm.js';
import { wrapper } from './wrapper.js';

type Cmd = (args: string[]) => Promise<number> | number;

const COMMANDS: Record<string, Cmd> = {
  ...NODE_COMMANDS,
  ...NODE_LIST_COMMANDS,
  ...PACKAGE_COMMANDS,
  ...SCALE_COMMANDS,
  ...BOSS_COMMANDS,
  ...VM_COMMANDS,
  ...NET_COMMANDS,
  'migrate_for_tag_server.py': migrate,
};

function strictMode(): StrictMode {
  try {
    return readConfig(SERVICES).strict ?? false;
  } catch {
    return false;
  }
}

async function main(): Promise<number> {
  const [name = '', ...args] = process.argv.slice(2);
  if (name === '@wrapper') return wrapper();
  const mode = strictMode();
  const refused = mode ? strictRefusal(name, args, mode) : undefined;
  if (refused) {
    err(refused.message);
    return refused.code;
  }
  const job = /^get-(.+)-(status|log)\.py$/.exec(name);
  if (job) return job[2] === 'status' ? jobStatus(job[1]!, args) : jobLog(job[1]!, args);
  const cmd = COMMANDS[name];
  if (!cmd) {
    err(`${name}: command not found`);
    return 127;
  }
  return cmd(args);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof CmdError) {
      err(`${e.message}`);
      process.exitCode = e.code;
    } else {
      err(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      process.exitCode = 70;
    }
  },
);
