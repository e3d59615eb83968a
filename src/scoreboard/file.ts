import { closeSync, readSync } from 'node:fs';
import { nativeBinding } from '../native/binding.js';
import { ScoreboardRegion } from './region.js';
import {
  HEADER_SIZE,
  SLOT_SIZE,
  decodeSlot,
  decodeSlotLoad,
  slotLoadReader,
  readWhole,
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

export interface ScoreboardSnapshot {
  header: PoolHeader;
  slots: Slot[];
}

/**
 * Every slot, in one read of the whole span, retrying records a concurrent
 * writer tore. The single re-reads share one budget: a slot a writer keeps
 * garbled must not make the reader spin once per slot.
 */
export function readSlots(fd: number, slotCount: number): Slot[] {
  const bytes = Buffer.alloc(fileSize(slotCount));
  const slots: (Slot | null)[] = new Array(slotCount).fill(null);
  for (let attempt = 0; attempt < READ_ATTEMPTS && slots.includes(null); attempt++) {
    readSync(fd, bytes, 0, bytes.length, 0);
    for (let i = 0; i < slotCount; i++) slots[i] ??= decodeSlot(bytes, slotOffset(i));
  }
  const single = Buffer.alloc(SLOT_SIZE);
  let budget = SLOT_READ_ATTEMPTS;
  for (let i = 0; i < slotCount; i++) {
    slots[i] ??= readWhole(budget, () => {
      budget--;
      readSync(fd, single, 0, SLOT_SIZE, slotOffset(i));
      return decodeSlot(single, 0);
    });
  }
  // Only a writer rewriting its slot nonstop could still be torn here; this read reports it free.
  return slots.map((slot) => slot ?? freeSlot());
}

/**
 * The master's side: creates the pool's scoreboard, owns the header, frees
 * slots of dead workers. The scoreboard is a memfd, not a file: no name
 * anyone could pre-create, reach or truncate, and its size is sealed
 * (native/map.c), so the master's mapping can never lose pages under it.
 * The pool's workers get it as a descriptor at spawn (records.ts,
 * SCOREBOARD_FD); nobody else does.
 */
export class Scoreboard {
  readonly fd: number;
  private readonly region: ScoreboardRegion;
  private readonly headerBytes = Buffer.alloc(HEADER_SIZE);
  private readonly slotBytes = Buffer.alloc(SLOT_SIZE);
  /** Where loads() copies the slots it reads, each at its place in the file's slot area, and their readers. */
  private readonly loadBytes: Buffer;
  private readonly loadReaders: (() => SlotLoad | null)[];
  private readonly used: boolean[];
  /** The header as last written: what the master reports, whatever a worker may have written over it. */
  private header: PoolHeader | null = null;

  constructor(
    pool: string,
    readonly slotCount: number,
  ) {
    this.fd = nativeBinding().anonymousMemory(fileSize(slotCount), `poold-scoreboard:${pool}`);
    this.region = new ScoreboardRegion(this.fd, fileSize(slotCount));
    this.used = new Array(slotCount).fill(false);
    this.loadBytes = Buffer.alloc(slotCount * SLOT_SIZE);
    this.loadReaders = this.used.map((_, index) => slotLoadReader(this.loadBytes, index * SLOT_SIZE));
  }

  writeHeader(header: PoolHeader): void {
    this.header = header;
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

  /** The header the master wrote and every slot as read; null before the first header. */
  read(): ScoreboardSnapshot | null {
    return this.header && { header: this.header, slots: readSlots(this.fd, this.slotCount) };
  }

  /**
   * What dispatch needs from these slots (null: torn, try later), in one read
   * of the span they occupy: it runs for every new connection.
   */
  loads(indices: readonly number[]): (SlotLoad | null)[] {
    if (indices.length === 0) return [];
    const first = Math.min(...indices);
    const size = (Math.max(...indices) - first + 1) * SLOT_SIZE;
    this.region.read(this.loadBytes.subarray(first * SLOT_SIZE), size, slotOffset(first));
    return indices.map(
      (index) =>
        this.loadReaders[index]!() ??
        readWhole(LOAD_READ_ATTEMPTS, () => {
          this.region.read(this.slotBytes, SLOT_SIZE, slotOffset(index));
          return decodeSlotLoad(this.slotBytes, 0);
        }),
    );
  }

  /** One slot, retried while torn; null if it stays torn. */
  readSlot(index: number): Slot | null {
    const bytes = Buffer.alloc(SLOT_SIZE);
    return readWhole(SLOT_READ_ATTEMPTS, () => {
      this.region.read(bytes, SLOT_SIZE, slotOffset(index));
      return decodeSlot(bytes, 0);
    });
  }

  close(): void {
    closeSync(this.fd);
  }

  private writeSlot(index: number, slot: Slot): void {
    encodeSlot(slot, this.slotBytes);
    this.region.write(this.slotBytes, SLOT_SIZE, slotOffset(index));
  }
}
