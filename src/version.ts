import { readFileSync } from 'node:fs';

/** poold's version, from its package.json (dist/src/version.js → package.json). */
export function packageVersion(): string {
  const manifest = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}
