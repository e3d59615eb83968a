import path from 'node:path';
import { dumpConfig, formatIssue } from '../config/index.js';
import { resolveIdentities } from '../config/identities.js';
import { identityContext } from '../pool/spawn-worker.js';
import { EXIT } from './exit-codes.js';
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
  if (identities.issues.length > 0) {
    for (const issue of identities.issues) process.stderr.write(`ERROR: ${formatIssue(issue)}\n`);
    process.stderr.write(`ERROR: configuration file ${file} test failed\n`);
    return EXIT.CONFIG;
  }
  if (options.dump) process.stdout.write(dumpConfig(loaded.config));
  process.stderr.write(`NOTICE: configuration file ${file} test is successful\n`);
  return EXIT.OK;
}
