import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { EXIT } from '../control/exit-codes.js';
import { DEFAULT_CONFIG } from './load-config.js';
import { runControlCommand } from './control-command.js';
import { startCommand } from './start.js';
import { statusCommand } from './status.js';
import { stopCommand } from './stop.js';
import { SORT_ORDERS } from './watch-view.js';
import { testCommand } from './test-config.js';
import { packageVersion } from '../version.js';

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
    .command('reload')
    .description('gracefully reload: re-read the configuration and roll every pool over to new workers')
    .option('-c, --config <file>', 'configuration file naming the pid file', DEFAULT_CONFIG)
    .option('--pid <file>', 'pid file of the master')
    .option('--wait', 'return only when the rollout has finished (or failed)')
    .option('--timeout <seconds>', 'how long to wait for an answer', positiveSeconds, 120)
    .action(async (options) => {
      const request = { cmd: 'reload' as const, wait: Boolean(options.wait) };
      exitCode = (await runControlCommand(options, request, options.timeout * 1000)).code;
    });

  program
    .command('reopen-logs')
    .description('reopen every log file (after logrotate renamed them)')
    .option('-c, --config <file>', 'configuration file naming the pid file', DEFAULT_CONFIG)
    .option('--pid <file>', 'pid file of the master')
    .action(async (options) => {
      exitCode = (await runControlCommand(options, { cmd: 'reopen-logs' }, 10_000)).code;
    });

  program
    .command('status')
    .description('show pools and workers from the scoreboard (works while workers are stuck)')
    .option('-c, --config <file>', 'configuration file naming the pid file', DEFAULT_CONFIG)
    .option('--pid <file>', 'pid file of the master')
    .option('--pool <name>', 'only this pool')
    .option('--json', 'machine-readable output')
    .option('--full', 'list every worker, even for idle pools')
    .option('--watch', 'a live view, redrawn every interval until q or Ctrl-C; it waits for a master that is not running')
    .addOption(new Option('--sort <order>', 'the workers\' order while watching (keys s, c, m, d switch it)').choices(SORT_ORDERS).default('slot'))
    .option('--interval <seconds>', 'seconds between two readings while watching', positiveSeconds, 1)
    .action(async (options) => {
      exitCode = await statusCommand(options);
    });

  program
    .command('test')
    .description('check the configuration and exit')
    .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
    .option('--dump', 'print the effective configuration, defaults filled in')
    .action(async (options) => {
      exitCode = await testCommand(options);
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
