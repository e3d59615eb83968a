import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The native helper's functions (native/*.c). */
export interface NativeBinding {
  /** mmap(MAP_SHARED) of the first `length` bytes of `fd`, read-write. */
  map(fd: number, length: number): ArrayBuffer;
  /** A new anonymous shared-memory file (memfd) of `length` bytes, its size sealed; returns its fd. `name` shows in /proc/PID/fd. */
  anonymousMemory(length: number, name?: string): number;
  /** A SOCK_SEQPACKET socketpair, both ends close-on-exec. */
  socketpair(): [number, number];
  /** Polls `fd` and calls back once per record (type 0: the other end is gone; id: its errno). */
  open(fd: number, capacity: number, onRecord: (type: number, id: number, fd: number, payload: Buffer | undefined) => void): Channel;
  /** One record, with at most one descriptor; false when the channel is full. */
  send(channel: Channel, type: number, id: number, fd: number, payload?: Buffer): boolean;
  close(channel: Channel): void;
  /** Reads the records already waiting on the channel now, calling back for each. */
  poll(channel: Channel): void;
  /** Copies the bytes waiting on a connected socket into `into` without taking them; 0: none yet, -1: the peer closed. */
  peek(fd: number, into: Buffer): number;
  /** From now on, new connections to the listening TCP socket `fd` are dropped (native/listener.c); queued ones are not touched. */
  dropNewConnections(fd: number): void;
  /**
   * Starts the parking thread (native/parking.c) of a worker: a connection
   * parked for `graceMs` with a request waiting on it is taken, and the master
   * told on the channel `channelFd`. Entries below `capacity`.
   */
  openParking(channelFd: number, capacity: number, graceMs: number): Parking;
  /** The thread may take this connection from now on, and then sends a record of `recordType` (its entry as id). */
  park(parking: Parking, entry: number, fd: number, recordType: number): void;
  /** True: the caller has the connection again; false: the thread handed it back to the master. */
  unpark(parking: Parking, entry: number): boolean;
  /** Stops the thread; parked connections stay as they are, the caller's. */
  closeParking(parking: Parking): void;
  /** This process's limit of a resource (Infinity: unlimited). */
  getrlimit(resource: LimitedResource): ResourceLimit;
  /** Sets this process's limit of a resource (raising `hard` needs CAP_SYS_RESOURCE). */
  setrlimit(resource: LimitedResource, soft: number, hard: number): void;
}

/** The resources poold limits, named as FPM's rlimit_files and rlimit_core. */
export type LimitedResource = 'files' | 'core';

export interface ResourceLimit {
  soft: number;
  hard: number;
}

/** An open channel, as the helper knows it. */
export type Channel = { readonly __channel: unique symbol };

/** A worker's parking thread, as the helper knows it. */
export type Parking = { readonly __parking: unique symbol };

// dist/src/<dir>/<file>.js, bundled or not: the package root is three levels up.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BUILT = `${ROOT}build/Release/poold.node`;
const PLATFORM = `${process.platform}-${process.arch}`;

/**
 * musl or glibc, told apart as node-gyp-build tells them (LIBC, else Alpine's
 * release file): the prebuild its test loaded at install is the one that runs.
 */
function libc(): string {
  return process.env.LIBC || (existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
}

const REBUILD =
  'install python3, make and g++ (Debian: apt-get install python3 make g++), then run npm rebuild --build-from-source where poold is installed';

export class NativeHelperError extends Error {}

/**
 * The helper's file, found in node-gyp-build's order: a build from source
 * (build/Release: a clone, or an install on a platform with no prebuild),
 * else the prebuild for this platform and libc that the package ships
 * (prebuilds/linux-x64/poold.glibc.node, poold.musl.node: scripts/prebuild.sh).
 * These few lines stand in for node-gyp-build's loader, which is CommonJS:
 * require() in a worker would set up the CommonJS loader, 3 ms of its start.
 * Null when there is neither.
 */
export function nativeHelperPath(): string | null {
  if (existsSync(BUILT)) return BUILT;
  const prebuilt = `${ROOT}prebuilds/${PLATFORM}/poold.${libc()}.node`;
  return existsSync(prebuilt) ? prebuilt : null;
}

let binding: NativeBinding | null = null;

/**
 * The native helper, loaded once. Loaded with process.dlopen(): require()
 * would first set up the CommonJS loader, 3 ms of every worker's start
 * against 0.2 ms. Throws NativeHelperError, one line that says what is wrong
 * and what to do, when it is missing or does not load.
 */
export function nativeBinding(): NativeBinding {
  if (binding) return binding;
  const file = nativeHelperPath();
  if (!file) {
    throw new NativeHelperError(
      `poold's native helper is missing: the package has no prebuilt one for ${PLATFORM} (${libc()}) and it was not built from source (no ${BUILT}); ${REBUILD}`,
    );
  }
  const module = { exports: {} as NativeBinding };
  try {
    process.dlopen(module, file);
  } catch (err) {
    const reason = (err as Error).message.replace(/\s*\n\s*/g, ' ');
    throw new NativeHelperError(`poold's native helper ${file} does not load (${reason}); ${REBUILD}`);
  }
  binding = module.exports;
  return binding;
}
