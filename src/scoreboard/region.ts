import { existsSync, readSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type MapFile = (fd: number, length: number) => ArrayBuffer;

// dist/src/<dir>/<file>.js, bundled or not: the package root is three levels up.
const NATIVE_HELPER = fileURLToPath(new URL('../../../build/Release/scoreboard_map.node', import.meta.url));

/**
 * The native helper built at install (native/scoreboard_map.c): mmap() for a
 * file descriptor. Missing when the machine had no C compiler then; the
 * scoreboard works without it, one system call per access. Loaded with
 * process.dlopen(): require() would first set up the CommonJS loader, 3 ms
 * of every worker's start against 0.2 ms.
 */
function loadMapper(): { map: MapFile | null; problem: string | null } {
  if (!existsSync(NATIVE_HELPER)) {
    return {
      map: null,
      problem: 'the native scoreboard helper was not built at install (it needs python3, make and g++; then run npm rebuild)',
    };
  }
  const binding = { exports: {} as { map?: MapFile } };
  try {
    process.dlopen(binding, NATIVE_HELPER);
  } catch (err) {
    return { map: null, problem: `the native scoreboard helper does not load: ${(err as Error).message}` };
  }
  const map = binding.exports.map;
  return map ? { map, problem: null } : { map: null, problem: 'the native scoreboard helper has no map()' };
}

const loaded = loadMapper();
/** Null when the native helper is missing; `nativeMapProblem` then says why. */
export const nativeMapFile = loaded.map;
export const nativeMapProblem = loaded.problem;

/**
 * The scoreboard file as one process sees it. With the native helper it is
 * mapped shared into memory, as FPM's is: a slot write is a copy of a few
 * hundred bytes (tens of nanoseconds) instead of a pwrite() (a microsecond
 * idle, several on a loaded machine, twice per request). Without it, the same
 * bytes go through positioned reads and writes. Either way every process sees
 * the file's one copy in the page cache, so a reader that uses pread() (poold
 * status) and a writer that uses the mapping agree, and the records'
 * checksums still catch a copy that raced a write.
 */
export class ScoreboardRegion {
  private readonly mapped: Uint8Array | null;

  /**
   * `size`: the file's length, fixed for its lifetime (a mapping past the end
   * would fault). `mapFile`: tests pass null to exercise the system calls.
   */
  constructor(
    private readonly fd: number,
    size: number,
    mapFile = nativeMapFile,
  ) {
    this.mapped = mapFile ? new Uint8Array(mapFile(fd, size)) : null;
  }

  write(bytes: Uint8Array, length: number, position: number): void {
    if (this.mapped) this.mapped.set(length === bytes.length ? bytes : bytes.subarray(0, length), position);
    else writeSync(this.fd, bytes, 0, length, position);
  }

  read(into: Uint8Array, length: number, position: number): void {
    if (this.mapped) into.set(this.mapped.subarray(position, position + length));
    else readSync(this.fd, into, 0, length, position);
  }
}
