import path from 'node:path';
import type { PooldConfig } from '../config/types.js';
import { inheritedDescriptor } from '../log/inherited-fd.js';
import { createLogger, flushLogger } from '../log/logger.js';
import { Master, StartError } from '../master/master.js';
import { isDaemonChild, launchDaemon, reportToLauncher } from './daemon.js';
import { EXIT } from '../control/exit-codes.js';
import { loadConfigOrReport } from './load-config.js';
import { nativeHelperProblem } from './native-helper.js';

export interface StartOptions {
  config: string;
  pid?: string;
  daemonize?: boolean;
}

/** The pool logs that name one of the master's descriptors (/dev/stdout, …), e.g. `[pool www] access.log = /dev/stdout`. */
function descriptorLogs(config: PooldConfig): string[] {
  return config.pools.flatMap((pool) =>
    (
      [
        ['access.log', pool.accessLog],
        ['slowlog', pool.slowlog],
      ] as const
    )
      .filter(([, file]) => file !== null && inheritedDescriptor(file) !== null)
      .map(([key, file]) => `[pool ${pool.name}] ${key} = ${file}`),
  );
}

/** On top of process_start_timeout: the master's own start (config, sockets) before its workers'. */
const LAUNCH_MARGIN_MS = 5000;

export async function startCommand(options: StartOptions): Promise<number> {
  const problem = nativeHelperProblem();
  if (problem) {
    process.stderr.write(`ERROR: ${problem}\n`);
    reportToLauncher({ ok: false, code: EXIT.UNAVAILABLE, message: problem });
    return EXIT.UNAVAILABLE;
  }
  const configFile = path.resolve(options.config);
  const loaded = loadConfigOrReport(configFile);
  if (!loaded) {
    process.stderr.write('ERROR: poold initialization failed\n');
    reportToLauncher({ ok: false, code: EXIT.CONFIG, message: 'configuration errors' });
    return EXIT.CONFIG;
  }
  const { config, warnings } = loaded;
  if (options.pid) config.global.pid = path.resolve(options.pid);
  if (options.daemonize) config.global.daemonize = true;

  if (config.global.daemonize && !isDaemonChild()) {
    if (config.global.errorLog === null || inheritedDescriptor(config.global.errorLog) !== null) {
      process.stderr.write(
        `ERROR: [global] daemonize needs error_log set to a file: a background poold has no terminal to log to (${configFile})\n`,
      );
      return EXIT.CONFIG;
    }
    const unreachable = descriptorLogs(config);
    if (unreachable.length > 0) {
      for (const log of unreachable) {
        process.stderr.write(`ERROR: ${log}: a background poold's descriptors lead nowhere; set a file (${configFile})\n`);
      }
      return EXIT.CONFIG;
    }
    const args = ['start', '-c', configFile, ...(options.pid ? ['--pid', config.global.pid!] : [])];
    return launchDaemon(args, config.global.processStartTimeout + LAUNCH_MARGIN_MS);
  }
  if (isDaemonChild()) process.chdir('/');

  const log = createLogger(config.global, config.global.logLevel);
  for (const warning of warnings) log.warning(warning);
  let code: number;
  try {
    const master = new Master(config, log, {
      onReady: () => reportToLauncher({ ok: true, code: EXIT.OK, message: 'ready' }),
    });
    code = await master.run();
  } catch (err) {
    code = err instanceof StartError ? err.exitCode : EXIT.SOFTWARE;
    const message = err instanceof StartError ? err.message : String((err as Error).stack ?? err);
    log.alert(message);
    log.alert('poold initialization failed');
    reportToLauncher({ ok: false, code, message });
  }
  await flushLogger(log);
  return code;
}
