// `poold test` runs this once per pool, in a child process started as a
// worker is: it loads the pool's app and checks its export, then exits
// without serving or running init(). On failure, stderr holds the reason.
import { inspect } from 'node:util';
import { loadApp } from './app-loader.js';

try {
  await loadApp(process.argv[2]!);
  process.exit(0);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? String(err) : inspect(err)}\n`);
  process.exit(1);
}
