import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The native helper's functions (native/*.c). */
export interface NativeBinding {
  /** mmap(MAP_SHARED) of the first `length` bytes of `fd`, read-write. */
  map(fd: number, length: number): ArrayBuffer;
  /** A new anonymous shared-memory file (memfd) of `length` bytes; returns its fd. */
  anonymousMemory(length: number): number;
  /** A SOCK_SEQPACKET socketpair, both ends close-on-exec. */
  socketpair(): [number, number];
  /** Polls `fd` and calls back once per record (type 0: the other end is gone; id: its errno). */
  open(fd: number, capacity: number, onRecord: (type: number, id: number, fd: number, payload: Buffer | undefined) => void): Channel;
  /** One record, with at most one descriptor; false when the channel is full. */
  send(channel: Channel, type: number, id: number, fd: number, payload?: Buffer): boolean;
  close(channel: Channel): void;
}

/** An open channel, as the helper knows it. */
export type Channel = { readonly __channel: unique symbol };

// dist/src/<dir>/<file>.js, bundled or not: the package root is three levels up.
const BUILT = fileURLToPath(new URL('../../../build/Release/poold.node', import.meta.url));

export class NativeHelperError extends Error {}

let binding: NativeBinding | null = null;

/**
 * The native helper, loaded once. Loaded with process.dlopen(): require()
 * would first set up the CommonJS loader, 3 ms of every worker's start
 * against 0.2 ms. Throws NativeHelperError with what to do when it is missing.
 */
export function nativeBinding(): NativeBinding {
  if (binding) return binding;
  if (!existsSync(BUILT)) {
    throw new NativeHelperError(
      `poold's native helper is missing (${BUILT}): it is built at install, which needs python3, make and g++ (Debian: apt-get install python3 make g++); then run npm rebuild`,
    );
  }
  const module = { exports: {} as NativeBinding };
  try {
    process.dlopen(module, BUILT);
  } catch (err) {
    throw new NativeHelperError(`poold's native helper does not load: ${(err as Error).message}; run npm rebuild`);
  }
  binding = module.exports;
  return binding;
}
