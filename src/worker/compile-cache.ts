// The worker's half of the module compile cache (src/pool/compile-cache.ts).
import module from 'node:module';

type EnableCompileCache = (dir: string) => { status: number; message?: string; directory?: string };

/**
 * Caches the code the app compiles in `dir`, from here on (Node >= 22.1; on
 * older Node nothing happens). Node writes what it compiled when the worker
 * exits. A NODE_COMPILE_CACHE in the worker's environment was applied as Node
 * started and stays (this call then reports ALREADY_ENABLED);
 * NODE_DISABLE_COMPILE_CACHE=1 turns the cache off.
 */
export function enableCompileCache(dir: string): void {
  (module as { enableCompileCache?: EnableCompileCache }).enableCompileCache?.(dir);
}
