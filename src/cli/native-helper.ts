import { nativeBinding, NativeHelperError } from '../native/binding.js';

/**
 * Why the native helper cannot load, in one line that says what to install
 * and run, or null when it loads. `poold start` and `poold test` ask first:
 * every worker needs the helper, and a master that found out only when its
 * first pool started would fail later, in its log, with a stack trace.
 */
export function nativeHelperProblem(): string | null {
  try {
    nativeBinding();
    return null;
  } catch (err) {
    if (err instanceof NativeHelperError) return err.message;
    throw err;
  }
}
