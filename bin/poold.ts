#!/usr/bin/env node
import { main } from '../src/cli/main.js';
import { EXIT } from '../src/control/exit-codes.js';

try {
  process.exit(await main(process.argv));
} catch (err) {
  process.stderr.write(`poold: internal error: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(EXIT.SOFTWARE);
}
