import { nativeBinding } from '../native/binding.js';

/**
 * The scoreboard as one process sees it: mapped shared into memory, as
 * FPM's is, so a slot write is a copy of a few hundred bytes (tens of
 * nanoseconds) instead of a pwrite() (a microsecond idle, several on a loaded
 * machine, twice per request). Every process sees the same pages, so a
 * reader that uses pread() (status pages, the slowlog thread) and a writer
 * that uses the mapping agree, and the records' checksums still catch a copy
 * that raced a write.
 */
export class ScoreboardRegion {
  private readonly mapped: Uint8Array;

  /** `size`: its length, fixed for its lifetime (sealed: a mapping past the end would fault). */
  constructor(fd: number, size: number) {
    this.mapped = new Uint8Array(nativeBinding().map(fd, size));
  }

  write(bytes: Uint8Array, length: number, position: number): void {
    this.mapped.set(length === bytes.length ? bytes : bytes.subarray(0, length), position);
  }

  read(into: Uint8Array, length: number, position: number): void {
    into.set(this.mapped.subarray(position, position + length));
  }
}
