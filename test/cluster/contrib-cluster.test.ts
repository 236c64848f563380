// The sample cluster configuration in contrib/cluster/ is what the failover drill runs: HAProxy
// accepts it, and Patroni's DCS settings (timings, synchronous_mode) and HAProxy's checks are the
// ones the drill measured.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { drillLayout, haproxyConfig, patroniYaml } from '../../drill/lib/cluster-config.ts';

const text = (file: string) =>
  readFileSync(fileURLToPath(new URL(`../../contrib/cluster/${file}`, import.meta.url)), 'utf8');
const hasHaproxy = spawnSync('haproxy', ['-v']).status === 0;

/** The lines from `start` up to (not including) the next line indented no deeper than it. */
function section(yaml: string, start: string): string {
  const lines = yaml.split('\n');
  const from = lines.indexOf(start);
  assert.ok(from >= 0, `no "${start}"`);
  const indent = start.length - start.trimStart().length;
  const rest = lines.slice(from + 1);
  const end = rest.findIndex((l) => l.trim() && l.length - l.trimStart().length <= indent);
  return [start, ...rest.slice(0, end < 0 ? undefined : end)].join('\n');
}

describe('contrib/cluster/', () => {
  it('haproxy.cfg is valid', { skip: !hasHaproxy && 'haproxy is not installed' }, () => {
    const path = fileURLToPath(new URL('../../contrib/cluster/haproxy.cfg', import.meta.url));
    const result = spawnSync('haproxy', ['-c', '-f', path], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });

  it('patroni.yml has the drill’s DCS settings, synchronous_mode included', () => {
    const drill = patroniYaml(drillLayout('/tmp/x'), drillLayout('/tmp/x').postgres[0]!, '/tmp/x/socket');
    const sample = text('patroni.yml');
    assert.match(sample, /^ {4}synchronous_mode: true$/m);
    const dcs = (yaml: string) => section(yaml, '  dcs:').replace(/max_connections: \d+/, 'max_connections: N');
    assert.equal(dcs(sample), dcs(drill));
  });

  it('haproxy.cfg routes by Patroni’s /primary check as the drill does', () => {
    const drill = haproxyConfig(drillLayout('/tmp/x'));
    const sample = text('haproxy.cfg');
    for (const line of [
      'option httpchk GET /primary',
      'http-check expect status 200',
      'default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions',
      'timeout client 60m',
      'timeout server 60m',
    ]) {
      assert.ok(drill.includes(line), `the drill's HAProxy lacks ${line}`);
      assert.ok(sample.includes(line), `contrib/cluster/haproxy.cfg lacks ${line}`);
    }
  });
});
