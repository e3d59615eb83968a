import path from 'node:path';
import { dumpConfig, formatIssue } from '../config/index.js';
import { resolveIdentities } from '../config/identities.js';
import { identityContext } from '../pool/spawn-worker.js';
import { checkApps } from './check-apps.js';
import { EXIT } from '../control/exit-codes.js';
import { loadConfigOrReport, printWarnings } from './load-config.js';
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
  printWarnings(loaded.warnings);
  // Users and groups as `poold start` by this same user would resolve them.
  const identities = await resolveIdentities(loaded.config, identityContext());
  printWarnings(identities.warnings);
  for (const notice of identities.notices) process.stderr.write(`NOTICE: ${notice}\n`);
  // Each app loaded in a child process, as a worker would load it.
  const apps = await checkApps(loaded.config.pools);
  printWarnings(apps.warnings);
  const errors = [...identities.issues.map(formatIssue), ...apps.errors];
  if (errors.length > 0) {
    for (const error of errors) process.stderr.write(`ERROR: ${error}\n`);
    process.stderr.write(`ERROR: configuration file ${file} test failed\n`);
    return EXIT.CONFIG;
  }
  if (options.dump) process.stdout.write(dumpConfig(loaded.config));
  process.stderr.write(`NOTICE: configuration file ${file} test is successful\n`);
  return EXIT.OK;
}
