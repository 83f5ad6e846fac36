/**
 * What the kubectl plugin prints comes in part from the platform: step output tails, messages that
 * quote a node's answer. A node (or anyone who can write to a command's output) could put terminal
 * escape sequences there — rewrite the screen, set the window title, hide a line with `\r`, or, on
 * some terminals, inject input. So every control character except newline and tab is shown as a
 * visible `\xNN` instead of being sent to the terminal. The plugin's own escapes (the cursor
 * movements of `status --watch`) bypass this, and carry no text from the platform.
 */
// C0 controls except \t (09) and \n (0a), DEL, and the C1 controls (which some terminals obey as ESC).
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function terminalSafe(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** An output whose every write is made terminal-safe. */
export function terminalSafeOutput<T extends { out(t: string): void; err(t: string): void }>(io: T): T {
  return { ...io, out: (t: string) => io.out(terminalSafe(t)), err: (t: string) => io.err(terminalSafe(t)) };
}
