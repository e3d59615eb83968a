import { closeSync, existsSync, ftruncateSync, openSync, readdirSync, readSync, renameSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ScoreboardRegion } from './region.js';
import {
  HEADER_SIZE,
  SLOT_SIZE,
  decodeHeader,
  decodeSlot,
  decodeSlotLoad,
  encodeHeader,
  encodeSlot,
  fileSize,
  freeSlot,
  slotOffset,
  type PoolHeader,
  type Slot,
  type SlotLoad,
} from './layout.js';

/** How often a reader retries a torn record before giving up on this read. */
const READ_ATTEMPTS = 50;
/** A slot still torn after the bulk reads is re-read alone, which tears far less often. */
const SLOT_READ_ATTEMPTS = 2000;
/** Dispatch does not wait on a torn slot for long: the worker's previous reading stands in. */
const LOAD_READ_ATTEMPTS = 3;

/** tmpfs where there is one: the scoreboard must cost no disk I/O. */
export function scoreboardDir(): string {
  if (process.env.RUNTIME_DIRECTORY) return process.env.RUNTIME_DIRECTORY.split(':')[0]!;
  return existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
}

export function scoreboardPath(masterPid: number, pool: string, dir = scoreboardDir()): string {
  return path.join(dir, `poold-${masterPid}-${pool}.scoreboard`);
}

const FILE_NAME = /^poold-(\d+)-.+\.scoreboard$/;

/** Removes the scoreboards of masters that are gone (a SIGKILLed master cannot clean up). */
export function removeStaleScoreboards(isAlive: (pid: number) => boolean, dir = scoreboardDir()): void {
  for (const name of readdirSync(dir)) {
    const match = FILE_NAME.exec(name);
    if (!match || isAlive(Number(match[1]))) continue;
    try {
      unlinkSync(path.join(dir, name));
    } catch {
      // another master cleaned it first
    }
  }
}

export interface ScoreboardSnapshot {
  header: PoolHeader;
  slots: Slot[];
}

/** Reads the whole file in one read, retrying records a concurrent writer tore. */
export function readScoreboardFd(fd: number): ScoreboardSnapshot | null {
  const head = Buffer.alloc(HEADER_SIZE);
  let header: PoolHeader | null = null;
  for (let attempt = 0; attempt < READ_ATTEMPTS && !header; attempt++) {
    readSync(fd, head, 0, HEADER_SIZE, 0);
    header = decodeHeader(head);
  }
  if (!header) return null;
  const bytes = Buffer.alloc(fileSize(header.slotCount));
  const slots: (Slot | null)[] = new Array(header.slotCount).fill(null);
  for (let attempt = 0; attempt < READ_ATTEMPTS && slots.includes(null); attempt++) {
    readSync(fd, bytes, 0, bytes.length, 0);
    for (let i = 0; i < header.slotCount; i++) slots[i] ??= decodeSlot(bytes, slotOffset(i));
  }
  const single = Buffer.alloc(SLOT_SIZE);
  for (let i = 0; i < header.slotCount; i++) {
    for (let attempt = 0; attempt < SLOT_READ_ATTEMPTS && slots[i] === null; attempt++) {
      readSync(fd, single, 0, SLOT_SIZE, slotOffset(i));
      slots[i] = decodeSlot(single, 0);
    }
  }
  // Only a writer rewriting its slot nonstop could still be torn here; this read reports it free.
  return { header, slots: slots.map((slot) => slot ?? freeSlot()) };
}

export function readScoreboard(file: string): ScoreboardSnapshot | null {
  const fd = openSync(file, 'r');
  try {
    return readScoreboardFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** The master's side: creates the file, owns the header, frees slots of dead workers. */
export class Scoreboard {
  private readonly fd: number;
  private readonly region: ScoreboardRegion;
  private readonly headerBytes = Buffer.alloc(HEADER_SIZE);
  private readonly slotBytes = Buffer.alloc(SLOT_SIZE);
  /** Scratch space for loads(), grown to the span of slots asked for. */
  private loadBytes = Buffer.alloc(SLOT_SIZE);
  private readonly used: boolean[];
  /** Set once another scoreboard took over this file name: closing must not remove it. */
  private replaced = false;

  /**
   * With `replacing`, the new file is built aside and renamed over the old one:
   * workers of the previous generation keep writing to the file they opened.
   */
  constructor(
    readonly file: string,
    readonly slotCount: number,
    replacing?: Scoreboard,
  ) {
    const building = replacing ? `${file}.new` : file;
    this.fd = openSync(building, 'w+', 0o644);
    ftruncateSync(this.fd, fileSize(slotCount));
    this.region = new ScoreboardRegion(this.fd, fileSize(slotCount));
    this.used = new Array(slotCount).fill(false);
    if (replacing) {
      renameSync(building, file);
      replacing.replaced = true;
    }
  }

  writeHeader(header: PoolHeader): void {
    encodeHeader(header, this.headerBytes);
    this.region.write(this.headerBytes, HEADER_SIZE, 0);
  }

  /** Reserves a free slot for a new worker, or null when all are taken. */
  allocate(): number | null {
    const index = this.used.indexOf(false);
    if (index === -1) return null;
    this.used[index] = true;
    this.writeSlot(index, { ...freeSlot(), state: 'Starting' });
    return index;
  }

  release(index: number): void {
    this.used[index] = false;
    this.writeSlot(index, freeSlot());
  }

  read(): ScoreboardSnapshot | null {
    return readScoreboardFd(this.fd);
  }

  /**
   * What dispatch needs from these slots (null: torn, try later), in one read
   * of the span they occupy: it runs for every new connection.
   */
  loads(indices: readonly number[]): (SlotLoad | null)[] {
    if (indices.length === 0) return [];
    const first = Math.min(...indices);
    const size = (Math.max(...indices) - first + 1) * SLOT_SIZE;
    if (this.loadBytes.length < size) this.loadBytes = Buffer.alloc(size);
    this.region.read(this.loadBytes, size, slotOffset(first));
    return indices.map((index) => {
      let load = decodeSlotLoad(this.loadBytes, (index - first) * SLOT_SIZE);
      for (let attempt = 0; attempt < LOAD_READ_ATTEMPTS && load === null; attempt++) {
        this.region.read(this.slotBytes, SLOT_SIZE, slotOffset(index));
        load = decodeSlotLoad(this.slotBytes, 0);
      }
      return load;
    });
  }

  /** One slot, retried while torn; null if it stays torn. */
  readSlot(index: number): Slot | null {
    const bytes = Buffer.alloc(SLOT_SIZE);
    for (let attempt = 0; attempt < SLOT_READ_ATTEMPTS; attempt++) {
      this.region.read(bytes, SLOT_SIZE, slotOffset(index));
      const slot = decodeSlot(bytes, 0);
      if (slot) return slot;
    }
    return null;
  }

  close(): void {
    closeSync(this.fd);
    if (this.replaced) return;
    try {
      unlinkSync(this.file);
    } catch {
      // already removed
    }
  }

  private writeSlot(index: number, slot: Slot): void {
    encodeSlot(slot, this.slotBytes);
    this.region.write(this.slotBytes, SLOT_SIZE, slotOffset(index));
  }
}
