import { nativeBinding } from '../native/binding.js';
import { CONNECTION_TABLE_SIZE } from './records.js';

/** A worker's connection table (records.ts, ConnectionState), mapped from its memfd. */
export function mapConnectionTable(fd: number): Uint8Array {
  return new Uint8Array(nativeBinding().map(fd, CONNECTION_TABLE_SIZE));
}

/** A new table: its descriptor (for the worker) and the master's mapping of it. */
export function createConnectionTable(): { fd: number; table: Uint8Array } {
  const fd = nativeBinding().anonymousMemory(CONNECTION_TABLE_SIZE);
  return { fd, table: mapConnectionTable(fd) };
}
