/** The outcome of a file system call: its value, or the errno code it failed with. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; code: string };

/**
 * Runs an operation and captures its errno instead of throwing, so the same operation can be run on
 * two roots and the outcomes compared. Errors without an errno code (bugs in the test) still throw.
 */
export async function attempt<T>(op: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await op() };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return { ok: false, code };
    throw err;
  }
}

/** The errno code of a failed outcome, or 'ok'. */
export function codeOf(o: Outcome<unknown>): string {
  return o.ok ? 'ok' : o.code;
}
