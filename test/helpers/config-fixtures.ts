// Config files for the config-layer unit tests, written into a fresh temp dir.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, type ConfigIssue } from '../../src/config/index.js';

export class Fixture {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poold-cfg-'));

  /** Writes `text` at `rel` (parents created) and returns the absolute path. */
  write(rel: string, text: string): string {
    const file = path.join(this.dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    return file;
  }

  path(rel: string): string {
    return path.join(this.dir, rel);
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A complete static pool section; `app.js` must exist next to the file (see withApp). */
export function poolSection(name: string, listen: string, extra = ''): string {
  return `[${name}]\nlisten = ${listen}\napp = app.js\npm = static\npm.max_children = 2\n${extra}`;
}

/** A fixture with an app module at its root. */
export function withApp(): Fixture {
  const fixture = new Fixture();
  fixture.write('app.js', 'export default () => {};\n');
  return fixture;
}

/** Runs `load` expecting a ConfigError and returns its issues. */
export function issuesOf(load: () => unknown): ConfigIssue[] {
  try {
    load();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.issues;
  }
  assert.fail('expected a ConfigError');
}

/** Line number (1-based) of the first line of `text` containing `needle`. */
export function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(index >= 0, `'${needle}' not in fixture`);
  return index + 1;
}
