import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { EXIT } from './exit-codes.js';
import { DEFAULT_CONFIG } from './load-config.js';
import { startCommand } from './start.js';
import { stopCommand } from './stop.js';
import { testCommand } from './test-config.js';

function packageVersion(): string {
  const manifest = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

function positiveSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new InvalidArgumentError('expected a number of seconds > 0');
  return seconds;
}

/** Runs the CLI and resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.OK;
  const program = new Command('poold')
    .description('A PHP-FPM-style process-pool supervisor for Node.js HTTP apps')
    .version(packageVersion(), '-v, --version')
    .exitOverride()
    .showHelpAfterError('(run poold --help for usage)');

  program
    .command('start')
    .description('start the master and its pools (in the foreground unless daemonized)')
    .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
    .option('--pid <file>', 'pid file (overrides [global] pid)')
    .option('-D, --daemonize', 'detach and run in the background (overrides [global] daemonize)')
    .action(async (options) => {
      exitCode = await startCommand(options);
    });

  program
    .command('stop')
    .description('gracefully stop a running master, found through its pid file')
    .option('-c, --config <file>', 'configuration file naming the pid file', DEFAULT_CONFIG)
    .option('--pid <file>', 'pid file of the master to stop')
    .option('--timeout <seconds>', 'how long to wait for it to exit (default: process_control_timeout + 5s)', positiveSeconds)
    .action(async (options) => {
      exitCode = await stopCommand(options);
    });

  program
    .command('test')
    .description('check the configuration and exit')
    .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
    .option('--dump', 'print the effective configuration, defaults filled in')
    .action((options) => {
      exitCode = testCommand(options);
    });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    const clean = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code);
    return clean ? EXIT.OK : EXIT.USAGE;
  }
  return exitCode;
}
