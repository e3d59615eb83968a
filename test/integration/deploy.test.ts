// The files under deploy/: the Prometheus alert rules pass promtool's checks
// and unit tests; every poold series they and the Grafana dashboard name
// exists on a real master's /metrics; the YAML passes yamllint; the container
// config passes poold test and agrees with the Kubernetes manifest's timings;
// the Dockerfile copies files that exist.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cleanup, FIXTURES, freePort, get, globalSection, poolSection, ROOT, startPoold, tempDir, type RunningPoold } from '../helpers/poold.js';
import { runPoold } from '../helpers/cli.js';
import { runCommand } from '../helpers/run.js';
import { hasPromtool, parseExposition, request } from '../helpers/status.js';

const PROMETHEUS_DIR = path.join(ROOT, 'deploy/prometheus');
const DASHBOARD = path.join(ROOT, 'deploy/grafana/poold.json');
const NO_PROMTOOL = "promtool not found: install Debian's `prometheus` package (.ci/run does)";

test('the alert rules pass promtool check rules and their unit tests', { skip: !hasPromtool() && NO_PROMTOOL }, async () => {
  const check = await runCommand('promtool', ['check', 'rules', 'poold-alerts.yml'], { cwd: PROMETHEUS_DIR });
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const unit = await runCommand('promtool', ['test', 'rules', 'poold-alerts.test.yml'], { cwd: PROMETHEUS_DIR });
  assert.equal(unit.code, 0, unit.stdout + unit.stderr);
});

/** The poold_* names an expression text uses, histogram sample suffixes kept. */
function pooldNames(text: string): Set<string> {
  return new Set(text.match(/\bpoold_[a-z_]+/g) ?? []);
}

test('every poold series the alerts and the dashboard query is on /metrics', async (t) => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[];
    templating: { list: { query?: unknown }[] };
  };
  const expressions = [
    ...dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr)),
    ...dashboard.templating.list.map((variable) => JSON.stringify(variable.query ?? '')),
    readFileSync(path.join(PROMETHEUS_DIR, 'poold-alerts.yml'), 'utf8'),
  ];
  const wanted = pooldNames(expressions.join('\n'));
  assert.ok(wanted.size > 10, `the files name poold series: ${[...wanted].join(', ')}`);

  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  const port = await freePort();
  poold = await startPoold(globalSection() + poolSection('www', port, path.join(FIXTURES, 'app.js'), 'pm.max_memory = 64M'));
  // Labelled histograms show their series once something was observed.
  assert.equal((await get(port, '/')).status, 200);
  const response = await request({ socketPath: path.join(poold.dir, 'status.sock') }, '/metrics');
  assert.equal(response.status, 200);
  const exposition = parseExposition(response.body);
  const present = new Set([...exposition.samples.map((sample) => sample.name), ...exposition.families.map((family) => family.name)]);
  const missing = [...wanted].filter((name) => !present.has(name));
  assert.deepEqual(missing, [], 'series the deploy files query but /metrics lacks');
});

const DEPLOY = path.join(ROOT, 'deploy');

function hasYamllint(): boolean {
  return spawnSync('yamllint', ['--version'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

test('the YAML under deploy/ passes yamllint', { skip: !hasYamllint() && "yamllint not found: install Debian's yamllint (.ci/run does)" }, async () => {
  const lint = await runCommand('yamllint', ['--strict', '-c', '.yamllint', 'kubernetes', 'prometheus'], { cwd: DEPLOY });
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
});

test('the container config passes poold test, and the manifest leaves it time to drain', async () => {
  const conf = readFileSync(path.join(DEPLOY, 'docker/poold.conf'), 'utf8');
  // The image's app path, here the example app.
  const dir = tempDir();
  const file = path.join(dir, 'poold.conf');
  writeFileSync(file, conf.replace('/srv/app/server.js', path.join(ROOT, 'examples/hello/app.js')));
  const checked = await runPoold(['test', '-c', file], 20_000, { POOLD_WORKERS: '2' });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(checked.code, 0, checked.stderr);

  const manifest = readFileSync(path.join(DEPLOY, 'kubernetes/deployment.yaml'), 'utf8');
  const grace = Number(/terminationGracePeriodSeconds: (\d+)/.exec(manifest)?.[1]);
  const preStop = Number(/command: \["sleep", "(\d+)"\]/.exec(manifest)?.[1]);
  const drain = Number(/^process_control_timeout = (\d+)s$/m.exec(conf)?.[1]);
  assert.ok(grace > preStop + drain, `terminationGracePeriodSeconds ${grace} > preStop ${preStop} + process_control_timeout ${drain}`);
});

test('the Dockerfile copies files that exist and runs poold under tini', () => {
  const dockerfile = readFileSync(path.join(DEPLOY, 'docker/Dockerfile'), 'utf8');
  const sources = [...dockerfile.matchAll(/^COPY (?!--from)(\S+) /gm)].map((match) => match[1]!).filter((source) => source !== '.');
  assert.ok(sources.length >= 2, sources.join(', '));
  for (const source of sources) assert.ok(existsSync(path.join(ROOT, source)), `${source} exists`);
  assert.match(dockerfile, /^ENTRYPOINT \["\/usr\/bin\/tini", "--", "poold"\]$/m);
  assert.match(dockerfile, /^USER node$/m);
});
