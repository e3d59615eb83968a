// The scoreboard: a pool header followed by fixed-size worker slots.
// Each record ends with a checksum of everything before it in the record, so a
// reader that raced a writer (neither a copy into the shared mapping nor a
// positioned write is atomic against a concurrent read) detects the torn copy
// and reads again.
import { PM_MODES, type PmMode } from '../config/types.js';

// Bumped whenever the layout changes, so that a reader of another version refuses the file.
export const MAGIC = 'POOLDSB5';
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

/** The pool's fields, written by the master only. */
export interface PoolHeader {
  pool: string;
  pm: PmMode;
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
  /** Connections whose request head the master is reading (not yet requests: not in the listen queue). */
  readingHeaders: number;
  slotCount: number;
}

/**
 * Upper bounds, in seconds, of the request-duration histogram each worker
 * keeps in its slot (one more bucket counts everything slower). Workers count
 * their own requests, so the master is not told about each one.
 */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

/** Requests by duration: `counts[i]` are those ≤ DURATION_BUCKETS[i] and above the bound before (the last: the rest). */
export interface DurationHistogram {
  /** Seconds. */
  sum: number;
  counts: number[];
}

/** An empty histogram over `bounds` (its counts: one per bound, and one for the rest). */
export function emptyHistogram(bounds: readonly number[]): DurationHistogram {
  return { sum: 0, counts: new Array<number>(bounds.length + 1).fill(0) };
}

export function emptyDurations(): DurationHistogram {
  return emptyHistogram(DURATION_BUCKETS);
}

/** Counts `seconds` into a histogram over `bounds`: in the first bucket whose bound it does not exceed, else the last. */
export function countInto(histogram: DurationHistogram, bounds: readonly number[], seconds: number): void {
  let bucket = 0;
  while (bucket < bounds.length && seconds > bounds[bucket]!) bucket++;
  histogram.counts[bucket]!++;
  histogram.sum += seconds;
}

/** Adds `more` into `into`. */
export function addDurations(into: DurationHistogram, more: DurationHistogram): void {
  into.sum += more.sum;
  for (let i = 0; i < into.counts.length; i++) into.counts[i]! += more.counts[i] ?? 0;
}

/** One worker's fields, written by that worker (by the master only while no worker owns it). */
export interface Slot {
  pid: number;
  state: SlotState;
  /** In-flight requests (more than one only with pm.max_concurrency > 1). */
  active: number;
  /** Connections handed over by the master whose first request has not begun. */
  waiting: number;
  /** Connections received from the master since the worker started. */
  accepted: number;
  /** Epoch ms since when it has had neither a request nor a waiting connection; 0 while it has. */
  freeSince: number;
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
  durations: DurationHistogram;
  /** Connections upgraded to another protocol (WebSocket) it holds open: not requests. */
  upgraded: number;
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
  readingHeaders: 88 + POOL_NAME_WIDTH,
  checksum: HEADER_SIZE - 4,
} as const;

// Slot offsets. Numbers are in the host's byte order: a scoreboard never
// leaves its machine, and native order lets the worker encode through typed
// arrays, several times faster than DataView on its hot path.
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
  accepted: 368,
  freeSince: 376,
  waiting: 384,
  durationSum: 392,
  durationCounts: 400,
  upgraded: 504,
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
  into.writeUInt32LE(header.readingHeaders, H.readingHeaders);
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
    readingHeaders: bytes.readUInt32LE(H.readingHeaders),
    slotCount: bytes.readUInt32LE(H.slotCount),
  };
}

const SLOT_WORDS = SLOT_SIZE / 4;
const CHECKSUM_WORD = S.checksum / 4;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** The text fields (method, user, uri) are one run of words, and change far less often than the numbers around them. */
const TEXT_FIRST_WORD = S.method / 4;
const TEXT_END_WORD = (S.uri + URI_WIDTH) / 4;
/** Where the numbers after the text end in whole groups of four words; the last few go one by one. */
const NUMBERS_END_WORD = CHECKSUM_WORD - (CHECKSUM_WORD % 4);

/**
 * FNV-1a over words [from, to) (a multiple of four words) in four lanes, one
 * each for words i, i+1, i+2, i+3, then folded into `seed`. One lane is a
 * chain of dependent multiplications; four let the CPU run them side by side.
 * A torn copy changes the words of at least one lane, which changes its hash.
 */
function foldWords(seed: number, words: Uint32Array, from: number, to: number): number {
  let a = FNV_OFFSET;
  let b = FNV_OFFSET ^ 1;
  let c = FNV_OFFSET ^ 2;
  let d = FNV_OFFSET ^ 3;
  for (let i = from; i < to; i += 4) {
    a = Math.imul(a ^ words[i]!, FNV_PRIME);
    b = Math.imul(b ^ words[i + 1]!, FNV_PRIME);
    c = Math.imul(c ^ words[i + 2]!, FNV_PRIME);
    d = Math.imul(d ^ words[i + 3]!, FNV_PRIME);
  }
  let hash = Math.imul(seed ^ a, FNV_PRIME);
  hash = Math.imul(hash ^ b, FNV_PRIME);
  hash = Math.imul(hash ^ c, FNV_PRIME);
  return Math.imul(hash ^ d, FNV_PRIME);
}

/** The part of the slot checksum that covers the text fields: a writer keeps it while they do not change. */
function textChecksum(words: Uint32Array): number {
  return foldWords(FNV_OFFSET, words, TEXT_FIRST_WORD, TEXT_END_WORD);
}

/**
 * The slot checksum, over every word before it: the numbers before and after
 * the text fields, then the text fields' own hash, which the worker's
 * encoder computes only when a text field changed (`text`).
 */
function slotChecksum(words: Uint32Array, text = textChecksum(words)): number {
  let hash = foldWords(FNV_OFFSET, words, 0, TEXT_FIRST_WORD);
  hash = foldWords(hash, words, TEXT_END_WORD, NUMBERS_END_WORD);
  for (let i = NUMBERS_END_WORD; i < CHECKSUM_WORD; i++) hash = Math.imul(hash ^ words[i]!, FNV_PRIME);
  hash = Math.imul(hash ^ text, FNV_PRIME) >>> 0;
  return hash || 1;
}

/** Typed views on one slot's bytes; they need the slot 8-byte aligned, which every buffer here is. */
class SlotView {
  readonly f64: Float64Array;
  readonly u32: Uint32Array;
  readonly u16: Uint16Array;
  readonly i32: Int32Array;

  constructor(readonly bytes: Buffer, offset: number) {
    const at = bytes.byteOffset + offset;
    this.f64 = new Float64Array(bytes.buffer, at, SLOT_SIZE / 8);
    this.u32 = new Uint32Array(bytes.buffer, at, SLOT_WORDS);
    this.u16 = new Uint16Array(bytes.buffer, at, SLOT_SIZE / 2);
    this.i32 = new Int32Array(bytes.buffer, at, SLOT_WORDS);
  }
}

/** Views on `bytes` at `offset` for a reader, copying the slot when the caller's buffer is not aligned. */
function viewOf(bytes: Buffer, offset: number): SlotView {
  if ((bytes.byteOffset + offset) % 8 === 0) return new SlotView(bytes, offset);
  return new SlotView(Buffer.from(bytes.subarray(offset, offset + SLOT_SIZE)), 0);
}

function writeSlotNumbers(slot: Slot, view: SlotView): void {
  const { f64, u16, u32, i32 } = view;
  i32[S.pid / 4] = slot.pid;
  u32[S.upgraded / 4] = slot.upgraded;
  u16[S.state / 2] = SLOT_STATES.indexOf(slot.state);
  u16[S.active / 2] = Math.min(slot.active, 0xffff);
  u16[S.waiting / 2] = Math.min(slot.waiting, 0xffff);
  f64[S.startTime / 8] = slot.startTime;
  f64[S.requests / 8] = slot.requests;
  f64[S.requestStart / 8] = slot.requestStart;
  f64[S.requestDuration / 8] = slot.requestDuration;
  f64[S.contentLength / 8] = slot.contentLength;
  f64[S.lastRequestCpu / 8] = slot.lastRequestCpu;
  f64[S.lastRequestMemory / 8] = slot.lastRequestMemory;
  f64[S.accepted / 8] = slot.accepted;
  f64[S.freeSince / 8] = slot.freeSince;
  f64[S.durationSum / 8] = slot.durations.sum;
  const counts = slot.durations.counts;
  for (let i = 0; i <= DURATION_BUCKETS.length; i++) f64[S.durationCounts / 8 + i] = counts[i] ?? 0;
}

function sealSlot(view: SlotView): void {
  view.u32[CHECKSUM_WORD] = slotChecksum(view.u32);
}

const TEXT_FIELDS = [
  ['method', S.method, METHOD_WIDTH],
  ['user', S.user, USER_WIDTH],
  ['uri', S.uri, URI_WIDTH],
] as const;

/** Encodes a slot into `into` at `offset`, which must be 8-byte aligned (writers own their buffers). */
export function encodeSlot(slot: Slot, into: Buffer, offset = 0): void {
  const view = new SlotView(into, offset);
  writeSlotNumbers(slot, view);
  for (const [field, at, width] of TEXT_FIELDS) writeText(into, offset + at, width, slot[field]);
  sealSlot(view);
}

/** What a text field of the encoder's buffer holds, and how many bytes it took. */
class EncodedText {
  private value = '';
  private length = 0;

  constructor(
    private readonly at: number,
    private readonly width: number,
  ) {}

  /**
   * Copies `value` in only when it changed, and clears only the stale tail of
   * a longer previous one; true when it changed.
   */
  write(bytes: Buffer, value: string): boolean {
    if (value === this.value) return false;
    const length = bytes.write(value, this.at, this.width - 1, 'utf8');
    if (this.length > length) bytes.fill(0, this.at + length, this.at + this.length);
    this.value = value;
    this.length = length;
    return true;
  }
}

/**
 * A worker's slot encoder, for the hot path (two writes per request): text
 * fields are copied, and their part of the checksum computed, only when they
 * change (the text copies are most of the cost); each through its own object,
 * so that no field is looked up by a variable key.
 */
export class SlotEncoder {
  readonly bytes = Buffer.alloc(SLOT_SIZE);
  private readonly view = new SlotView(this.bytes, 0);
  private readonly method = new EncodedText(S.method, METHOD_WIDTH);
  private readonly user = new EncodedText(S.user, USER_WIDTH);
  private readonly uri = new EncodedText(S.uri, URI_WIDTH);
  /** textChecksum() of the text fields as they are in the buffer. */
  private text = textChecksum(this.view.u32);

  encode(slot: Slot): Buffer {
    writeSlotNumbers(slot, this.view);
    const methodChanged = this.method.write(this.bytes, slot.method);
    const userChanged = this.user.write(this.bytes, slot.user);
    if (this.uri.write(this.bytes, slot.uri) || methodChanged || userChanged) this.text = textChecksum(this.view.u32);
    const { u32 } = this.view;
    u32[CHECKSUM_WORD] = slotChecksum(u32, this.text);
    return this.bytes;
  }
}

/** Null when the slot is torn (the reader retries); a never-written slot is free. */
export function decodeSlot(bytes: Buffer, offset: number): Slot | null {
  const view = viewOf(bytes, offset);
  const { f64, u16, u32, i32 } = view;
  if (u32[CHECKSUM_WORD] === 0) return freeSlot();
  if (u32[CHECKSUM_WORD] !== slotChecksum(u32)) return null;
  const text = view.bytes === bytes ? offset : 0;
  const counts: number[] = [];
  for (let i = 0; i <= DURATION_BUCKETS.length; i++) counts.push(f64[S.durationCounts / 8 + i]!);
  return {
    pid: i32[S.pid / 4]!,
    state: SLOT_STATES[u16[S.state / 2]!] ?? 'Free',
    active: u16[S.active / 2]!,
    waiting: u16[S.waiting / 2]!,
    accepted: f64[S.accepted / 8]!,
    freeSince: f64[S.freeSince / 8]!,
    startTime: f64[S.startTime / 8]!,
    requests: f64[S.requests / 8]!,
    requestStart: f64[S.requestStart / 8]!,
    requestDuration: f64[S.requestDuration / 8]!,
    contentLength: f64[S.contentLength / 8]!,
    lastRequestCpu: f64[S.lastRequestCpu / 8]!,
    lastRequestMemory: f64[S.lastRequestMemory / 8]!,
    method: readText(view.bytes, text + S.method, METHOD_WIDTH),
    user: readText(view.bytes, text + S.user, USER_WIDTH),
    uri: readText(view.bytes, text + S.uri, URI_WIDTH),
    durations: { sum: f64[S.durationSum / 8]!, counts },
    upgraded: u32[S.upgraded / 4]!,
  };
}

/** What dispatch needs from a slot: read on every new connection, so without decoding text. */
export interface SlotLoad {
  pid: number;
  /** In-flight requests plus connections waiting for their first request. */
  load: number;
  accepted: number;
  freeSince: number;
  /** Stopping or retiring: it takes no new connection. */
  finishing: boolean;
  /** Upgraded connections it holds (not requests). */
  upgraded: number;
}

/** Null when the slot is torn; a never-written slot has pid 0. */
export function decodeSlotLoad(bytes: Buffer, offset: number): SlotLoad | null {
  return decodeLoad(viewOf(bytes, offset));
}

/**
 * Decodes the load of the slot at `offset` in `bytes` (8-byte aligned)
 * whenever called, through views made once: dispatch reads the loads for
 * every new connection, and four typed arrays made per slot and read showed
 * in the master's profile.
 */
export function slotLoadReader(bytes: Buffer, offset: number): () => SlotLoad | null {
  const view = new SlotView(bytes, offset);
  return () => decodeLoad(view);
}

function decodeLoad(view: SlotView): SlotLoad | null {
  const { f64, u16, u32, i32 } = view;
  if (u32[CHECKSUM_WORD] === 0) return { pid: 0, load: 0, accepted: 0, freeSince: 0, finishing: false, upgraded: 0 };
  if (u32[CHECKSUM_WORD] !== slotChecksum(u32)) return null;
  return {
    pid: i32[S.pid / 4]!,
    load: u16[S.active / 2]! + u16[S.waiting / 2]!,
    accepted: f64[S.accepted / 8]!,
    freeSince: f64[S.freeSince / 8]!,
    finishing: SLOT_STATES[u16[S.state / 2]!] === 'Finishing',
    upgraded: u32[S.upgraded / 4]!,
  };
}

export function freeSlot(): Slot {
  return {
    pid: 0,
    state: 'Free',
    active: 0,
    waiting: 0,
    accepted: 0,
    freeSince: 0,
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
    durations: emptyDurations(),
    upgraded: 0,
  };
}

/**
 * A record read while its writer may be rewriting it: read again until it
 * decodes whole (its check fields agree), at most `attempts` times; null if
 * it stays torn. Each reader chooses how long it can afford to wait.
 */
export function readWhole<T>(attempts: number, readOnce: () => T | null): T | null {
  for (let attempt = 0; attempt < attempts; attempt++) {
    const record = readOnce();
    if (record !== null) return record;
  }
  return null;
}
