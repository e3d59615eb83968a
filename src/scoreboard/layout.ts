// The scoreboard file: a pool header followed by fixed-size worker slots.
// Each record ends with a checksum of everything before it in the record, so a
// reader that raced a writer (a positioned write is not atomic against a
// concurrent read) detects the torn copy and reads again.

export const MAGIC = 'POOLDSB2';
// 512 divides the 4 KiB page, so no record straddles two pages: a copy racing
// a write then tears far less often (page by page copies are what tear).
export const HEADER_SIZE = 512;
export const SLOT_SIZE = 512;
export const METHOD_WIDTH = 16;
export const USER_WIDTH = 32;
export const URI_WIDTH = 256;
export const POOL_NAME_WIDTH = 64;

export const SLOT_STATES = ['Free', 'Starting', 'Idle', 'Reading headers', 'Running', 'Finishing'] as const;
export type SlotState = (typeof SLOT_STATES)[number];
export const PM_MODES = ['static', 'dynamic', 'ondemand'] as const;

/** The pool's fields, written by the master only. */
export interface PoolHeader {
  pool: string;
  pm: (typeof PM_MODES)[number];
  startTime: number;
  acceptedConn: number;
  listenQueue: number;
  maxListenQueue: number;
  listenQueueLen: number;
  idle: number;
  active: number;
  total: number;
  maxActive: number;
  maxChildrenReached: number;
  slowRequests: number;
  maxChildren: number;
  minSpareServers: number;
  maxSpareServers: number;
  slotCount: number;
}

/** One worker's fields, written by that worker (by the master only while no worker owns it). */
export interface Slot {
  pid: number;
  state: SlotState;
  /** In-flight requests (more than one only with pm.max_concurrency > 1). */
  active: number;
  /** Epoch ms. */
  startTime: number;
  requests: number;
  /** Epoch ms when the current (or last) request began. */
  requestStart: number;
  /** µs of the last finished request (while busy, readers use now − requestStart). */
  requestDuration: number;
  method: string;
  uri: string;
  contentLength: number;
  user: string;
  lastRequestCpu: number;
  lastRequestMemory: number;
}

// Header offsets.
const H = {
  magic: 0,
  slotCount: 8,
  slotSize: 12,
  startTime: 16,
  acceptedConn: 24,
  slowRequests: 32,
  listenQueue: 40,
  maxListenQueue: 44,
  listenQueueLen: 48,
  idle: 52,
  active: 56,
  total: 60,
  maxActive: 64,
  maxChildrenReached: 68,
  maxChildren: 72,
  minSpareServers: 76,
  maxSpareServers: 80,
  pm: 84,
  pool: 88,
  checksum: HEADER_SIZE - 4,
} as const;

// Slot offsets.
const S = {
  pid: 0,
  state: 4,
  active: 6,
  startTime: 8,
  requests: 16,
  requestStart: 24,
  requestDuration: 32,
  contentLength: 40,
  lastRequestCpu: 48,
  lastRequestMemory: 56,
  method: 64,
  user: 64 + METHOD_WIDTH,
  uri: 64 + METHOD_WIDTH + USER_WIDTH,
  checksum: SLOT_SIZE - 4,
} as const;

export function fileSize(slotCount: number): number {
  return HEADER_SIZE + slotCount * SLOT_SIZE;
}

export function slotOffset(index: number): number {
  return HEADER_SIZE + index * SLOT_SIZE;
}

/** FNV-1a over 32-bit words: cheap enough for every state change, and catches torn copies. */
function checksum(view: DataView, start: number, length: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < length; i += 4) {
    hash ^= view.getUint32(start + i, true);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  // Never 0, so an all-zero (never written) record does not pass as valid.
  return hash || 1;
}

function writeText(bytes: Buffer, offset: number, width: number, text: string): void {
  const written = bytes.write(text, offset, width - 1, 'utf8');
  bytes.fill(0, offset + written, offset + width);
}

function readText(bytes: Buffer, offset: number, width: number): string {
  const end = bytes.indexOf(0, offset);
  return bytes.toString('utf8', offset, end === -1 || end > offset + width ? offset + width : end);
}

function seal(bytes: Buffer, start: number, size: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint32(start + size - 4, checksum(view, start, size - 4), true);
}

function intact(bytes: Buffer, start: number, size: number): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(start + size - 4, true) === checksum(view, start, size - 4);
}

export function encodeHeader(header: PoolHeader, into: Buffer = Buffer.alloc(HEADER_SIZE)): Buffer {
  into.write(MAGIC, H.magic, 'latin1');
  into.writeUInt32LE(header.slotCount, H.slotCount);
  into.writeUInt32LE(SLOT_SIZE, H.slotSize);
  into.writeDoubleLE(header.startTime, H.startTime);
  into.writeDoubleLE(header.acceptedConn, H.acceptedConn);
  into.writeDoubleLE(header.slowRequests, H.slowRequests);
  into.writeUInt32LE(header.listenQueue, H.listenQueue);
  into.writeUInt32LE(header.maxListenQueue, H.maxListenQueue);
  into.writeUInt32LE(header.listenQueueLen, H.listenQueueLen);
  into.writeUInt32LE(header.idle, H.idle);
  into.writeUInt32LE(header.active, H.active);
  into.writeUInt32LE(header.total, H.total);
  into.writeUInt32LE(header.maxActive, H.maxActive);
  into.writeUInt32LE(header.maxChildrenReached, H.maxChildrenReached);
  into.writeUInt32LE(header.maxChildren, H.maxChildren);
  into.writeUInt32LE(header.minSpareServers, H.minSpareServers);
  into.writeUInt32LE(header.maxSpareServers, H.maxSpareServers);
  into.writeUInt8(PM_MODES.indexOf(header.pm), H.pm);
  writeText(into, H.pool, POOL_NAME_WIDTH, header.pool);
  seal(into, 0, HEADER_SIZE);
  return into;
}

/** Null when the header is torn or not a scoreboard. */
export function decodeHeader(bytes: Buffer): PoolHeader | null {
  if (bytes.length < HEADER_SIZE || bytes.toString('latin1', 0, MAGIC.length) !== MAGIC) return null;
  if (!intact(bytes, 0, HEADER_SIZE)) return null;
  return {
    pool: readText(bytes, H.pool, POOL_NAME_WIDTH),
    pm: PM_MODES[bytes.readUInt8(H.pm)] ?? 'static',
    startTime: bytes.readDoubleLE(H.startTime),
    acceptedConn: bytes.readDoubleLE(H.acceptedConn),
    slowRequests: bytes.readDoubleLE(H.slowRequests),
    listenQueue: bytes.readUInt32LE(H.listenQueue),
    maxListenQueue: bytes.readUInt32LE(H.maxListenQueue),
    listenQueueLen: bytes.readUInt32LE(H.listenQueueLen),
    idle: bytes.readUInt32LE(H.idle),
    active: bytes.readUInt32LE(H.active),
    total: bytes.readUInt32LE(H.total),
    maxActive: bytes.readUInt32LE(H.maxActive),
    maxChildrenReached: bytes.readUInt32LE(H.maxChildrenReached),
    maxChildren: bytes.readUInt32LE(H.maxChildren),
    minSpareServers: bytes.readUInt32LE(H.minSpareServers),
    maxSpareServers: bytes.readUInt32LE(H.maxSpareServers),
    slotCount: bytes.readUInt32LE(H.slotCount),
  };
}

function writeSlotNumbers(slot: Slot, into: Buffer, offset: number): void {
  into.writeInt32LE(slot.pid, offset + S.pid);
  into.writeUInt16LE(SLOT_STATES.indexOf(slot.state), offset + S.state);
  into.writeUInt16LE(Math.min(slot.active, 0xffff), offset + S.active);
  into.writeDoubleLE(slot.startTime, offset + S.startTime);
  into.writeDoubleLE(slot.requests, offset + S.requests);
  into.writeDoubleLE(slot.requestStart, offset + S.requestStart);
  into.writeDoubleLE(slot.requestDuration, offset + S.requestDuration);
  into.writeDoubleLE(slot.contentLength, offset + S.contentLength);
  into.writeDoubleLE(slot.lastRequestCpu, offset + S.lastRequestCpu);
  into.writeDoubleLE(slot.lastRequestMemory, offset + S.lastRequestMemory);
}

const TEXT_FIELDS = [
  ['method', S.method, METHOD_WIDTH],
  ['user', S.user, USER_WIDTH],
  ['uri', S.uri, URI_WIDTH],
] as const;

/** Encodes a slot into `into` at `offset`. */
export function encodeSlot(slot: Slot, into: Buffer, offset = 0): void {
  writeSlotNumbers(slot, into, offset);
  for (const [field, at, width] of TEXT_FIELDS) writeText(into, offset + at, width, slot[field]);
  seal(into, offset, SLOT_SIZE);
}

/**
 * A worker's slot encoder, for the hot path (two writes per request): text
 * fields are copied only when they change, and only the stale tail of a
 * longer previous value is cleared — the text copies are most of the cost.
 */
export class SlotEncoder {
  readonly bytes = Buffer.alloc(SLOT_SIZE);
  /** What each text field holds now, and how many bytes it took (the buffer starts zeroed). */
  private readonly written = { method: { value: '', length: 0 }, user: { value: '', length: 0 }, uri: { value: '', length: 0 } };

  encode(slot: Slot): Buffer {
    writeSlotNumbers(slot, this.bytes, 0);
    for (const [field, at, width] of TEXT_FIELDS) {
      const previous = this.written[field];
      const value = slot[field];
      if (previous.value === value) continue;
      const length = this.bytes.write(value, at, width - 1, 'utf8');
      if (previous.length > length) this.bytes.fill(0, at + length, at + previous.length);
      this.written[field] = { value, length };
    }
    seal(this.bytes, 0, SLOT_SIZE);
    return this.bytes;
  }
}

/** Null when the slot is torn (the reader retries); a never-written slot is free. */
export function decodeSlot(bytes: Buffer, offset: number): Slot | null {
  if (bytes.readUInt32LE(offset + S.checksum) === 0) return freeSlot();
  if (!intact(bytes, offset, SLOT_SIZE)) return null;
  return {
    pid: bytes.readInt32LE(offset + S.pid),
    state: SLOT_STATES[bytes.readUInt16LE(offset + S.state)] ?? 'Free',
    active: bytes.readUInt16LE(offset + S.active),
    startTime: bytes.readDoubleLE(offset + S.startTime),
    requests: bytes.readDoubleLE(offset + S.requests),
    requestStart: bytes.readDoubleLE(offset + S.requestStart),
    requestDuration: bytes.readDoubleLE(offset + S.requestDuration),
    contentLength: bytes.readDoubleLE(offset + S.contentLength),
    lastRequestCpu: bytes.readDoubleLE(offset + S.lastRequestCpu),
    lastRequestMemory: bytes.readDoubleLE(offset + S.lastRequestMemory),
    method: readText(bytes, offset + S.method, METHOD_WIDTH),
    user: readText(bytes, offset + S.user, USER_WIDTH),
    uri: readText(bytes, offset + S.uri, URI_WIDTH),
  };
}

export function freeSlot(): Slot {
  return {
    pid: 0,
    state: 'Free',
    active: 0,
    startTime: 0,
    requests: 0,
    requestStart: 0,
    requestDuration: 0,
    method: '-',
    uri: '-',
    contentLength: 0,
    user: '-',
    lastRequestCpu: 0,
    lastRequestMemory: 0,
  };
}
