// Checks against what a start will meet on this machine, so that a
// configuration `poold test` passes is one `poold start` can run: directories
// that must exist, unix socket paths that must fit, descriptors that must be
// open, and numbers with a floor or a ceiling beyond which a start would fail.
import fs from 'node:fs';
import path from 'node:path';
import { controlSocketPath } from '../control/control-path.js';
import { inheritedDescriptor } from '../log/inherited-fd.js';
import { globalIssue, poolIssue, type PoolDraft } from './assemble.js';
import { SYSLOG, SYSLOG_SOCKET } from '../log/levels.js';
import { UNIX_PATH_MAX, fitsUnixSocket } from './system-limits.js';
import type { ConfigIssue, GlobalConfig, ListenAddress, SourceLocation } from './types.js';

/**
 * The most workers a pool may have. Each is a Node process of tens of MB, so
 * this is beyond any one machine; it keeps a typo from sizing a scoreboard of
 * terabytes (two slots of 512 bytes per child).
 */
export const MAX_CHILDREN_LIMIT = 10_000;

type Report = (key: string, message: string) => void;

export function runtimeIssues(
  global: GlobalConfig,
  globalSources: Record<string, SourceLocation>,
  drafts: readonly PoolDraft[],
  mainFile: string,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const reportGlobal: Report = (key, message) => issues.push(globalIssue({ globalSources }, mainFile, key, message));
  checkGlobal(global, reportGlobal);
  for (const draft of drafts) {
    const report: Report = (key, message) => issues.push(poolIssue(draft, key, message));
    checkPool(draft, report);
  }
  return issues;
}

/** FPM's floor for log_limit. */
export const MIN_LOG_LIMIT = 512;

function checkGlobal(global: GlobalConfig, report: Report): void {
  if (global.pid !== null && inExistingDirectory('pid', global.pid, report)) {
    const control = controlSocketPath(global.pid);
    if (!fitsUnixSocket(control)) {
      report('pid', `the control socket '${control}' derived from it is longer than a unix socket path may be (${UNIX_PATH_MAX - 1} bytes): choose a shorter pid path`);
    }
  }
  if (global.errorLog === SYSLOG) checkSyslogSocket(report);
  else if (global.errorLog !== null) checkLogTarget('error_log', global.errorLog, report);
  if (global.statusListen) checkUnixListen('status.listen', global.statusListen, report);
  if (global.logLimit < MIN_LOG_LIMIT) report('log_limit', `log_limit must be greater than ${MIN_LOG_LIMIT}`);
}

function checkPool(draft: PoolDraft, report: Report): void {
  const v = draft.values;
  if (v.listen) checkUnixListen('listen', v.listen, report);
  if (v.maxChildren !== undefined && v.maxChildren > MAX_CHILDREN_LIMIT) {
    report('pm.max_children', `pm.max_children(${v.maxChildren}) must not be greater than ${MAX_CHILDREN_LIMIT}`);
  }
  if (v.accessLog) checkLogTarget('access.log', v.accessLog, report);
  if (v.slowlog) checkLogTarget('slowlog', v.slowlog, report);
}

function checkSyslogSocket(report: Report): void {
  let isSocket = false;
  try {
    isSocket = fs.statSync(SYSLOG_SOCKET).isSocket();
  } catch {
    // missing: reported below
  }
  if (!isSocket) {
    report('error_log', `there is no syslog socket at ${SYSLOG_SOCKET}: run a syslog daemon (or journald), or leave error_log unset (stderr)`);
  }
}

function checkUnixListen(key: string, address: ListenAddress, report: Report): void {
  if (address.kind !== 'unix') return;
  if (!inExistingDirectory(key, address.path, report)) return;
  if (!fitsUnixSocket(address.path)) {
    report(key, `the socket path '${address.path}' is longer than a unix socket path may be (${UNIX_PATH_MAX - 1} bytes)`);
  }
}

/** A log is a file in an existing directory, or one of the master's open descriptors. */
function checkLogTarget(key: string, file: string, report: Report): void {
  const fd = inheritedDescriptor(file);
  if (fd === null) {
    inExistingDirectory(key, file, report);
  } else if (!isOpen(fd)) {
    report(key, `'${file}' names descriptor ${fd}, which poold was not started with`);
  }
}

/** True when the directory that must hold `file` exists; else reports why not. */
function inExistingDirectory(key: string, file: string, report: Report): boolean {
  const dir = path.dirname(file);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    report(key, `the directory '${dir}' of '${file}' does not exist`);
    return false;
  }
  if (!stat.isDirectory()) {
    report(key, `'${dir}' (where '${file}' would be) is not a directory`);
    return false;
  }
  return true;
}

function isOpen(fd: number): boolean {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}
