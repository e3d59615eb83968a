import path from 'node:path';
import { dumpConfig } from '../config/index.js';
import { checkApps } from './check-apps.js';
import { EXIT } from './exit-codes.js';
import { loadConfigOrReport } from './load-config.js';
import { nativeHelperProblem } from './native-helper.js';

export async function testCommand(options: { config: string; dump?: boolean }): Promise<number> {
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
  const apps = await checkApps(loaded.config.pools);
  for (const warning of [...loaded.warnings, ...apps.warnings]) process.stderr.write(`WARNING: ${warning}\n`);
  if (apps.errors.length > 0) {
    for (const error of apps.errors) process.stderr.write(`ERROR: ${error}\n`);
    process.stderr.write(`ERROR: configuration file ${file} test failed\n`);
    return EXIT.CONFIG;
  }
  if (options.dump) process.stdout.write(dumpConfig(loaded.config));
  process.stderr.write(`NOTICE: configuration file ${file} test is successful\n`);
  return EXIT.OK;
}
