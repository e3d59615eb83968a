import type { Slot } from '../scoreboard/layout.js';

/** What a hidden query string shows as: that there was one, not what it said. */
export const HIDDEN_QUERY = '?...';

/**
 * A request URI without its query string, which often carries secrets
 * (tokens, session ids): status.show_query off.
 */
export function hideQuery(uri: string): string {
  const question = uri.indexOf('?');
  return question === -1 ? uri : uri.slice(0, question) + HIDDEN_QUERY;
}

/** The slots with their URIs' query strings hidden. */
export function hideQueries(slots: readonly Slot[]): Slot[] {
  return slots.map((slot) => (slot.uri.includes('?') ? { ...slot, uri: hideQuery(slot.uri) } : slot));
}
