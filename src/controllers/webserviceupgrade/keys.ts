/**
 * The keys R5 refreshes from the `account` database (seed 004 lines 52 and 57: the
 * `secret_access_key` of `access_key` and the `secret_console_key` of `console_key`, in the
 * global zone's `account` database, into /pitrix/conf/variables/keys/.secret_access_key and
 * .secret_console_key). The runbook names neither the database server nor how to query it, and
 * the platform gives the operator no tool for it, so the operator does not guess: before the
 * first node goes down the rollout waits (condition KeysRefreshRequired) until a human has done
 * it and says so with an annotation. Never skipped silently; the refresh from client.yaml and
 * web_console_settings.py (lines 50–51, 55–56) is the `refreshKeys` step.
 */

export const KEYS_REFRESHED_ANNOTATION = 'ops.pitrix.io/keys-refreshed';

export function keysRefreshMessage(name: string, global: boolean): string {
  const files = global
    ? '/pitrix/conf/variables/keys/.secret_access_key (access_key.secret_access_key) and .secret_console_key (console_key.secret_console_key)'
    : '/pitrix/conf/variables/keys/.secret_access_key (access_key.secret_access_key)';
  return (
    `runbook R5 refreshes ${files} on firstbox from the global zone's account database; the runbook does not say how, ` +
    `so the operator does not do it: update the file(s), then kubectl annotate webserviceupgrade ${name} ${KEYS_REFRESHED_ANNOTATION}=true`
  );
}
