import path from 'node:path';
import { dumpConfig } from '../config/index.js';
import { EXIT } from './exit-codes.js';
import { loadConfigOrReport, printWarnings } from './load-config.js';
import { nativeHelperProblem } from './native-helper.js';

export function testCommand(options: { config: string; dump?: boolean }): number {
  // A configuration that passes must be one `poold start` can run.
  const problem = nativeHelperProblem();
  if (problem) {
    process.stderr.write(`ERROR: ${problem}\n`);
    return EXIT.UNAVAILABLE;
  }
  const file = path.resolve(options.config);
  const loaded = loadConfigOrReport(file);
  if (!loaded) {
    process.stderr.write(`ERROR: configuration file ${file} test failed\n`);
    return EXIT.CONFIG;
  }
  printWarnings(loaded.warnings);
  if (options.dump) process.stdout.write(dumpConfig(loaded.config));
  process.stderr.write(`NOTICE: configuration file ${file} test is successful\n`);
  return EXIT.OK;
}
