// The files in contrib/ for running Holdfast as a service: the systemd unit passes
// `systemd-analyze verify` and keeps its hardening; the container image runs unprivileged, exposes
// the ports it configures and checks /health/live; the compose file adds PostgreSQL.
// (No container engine runs here, so the image itself is not built by the tests.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const path = (file: string) => fileURLToPath(new URL(`../../contrib/${file}`, import.meta.url));
const text = (file: string) => readFileSync(path(file), 'utf8');
const hasVerify = spawnSync('systemd-analyze', ['--version']).status === 0;

describe('contrib/', () => {
  it('holdfast.service passes systemd-analyze verify', {
    skip: !hasVerify && 'systemd-analyze is not installed (apt-get install systemd)',
  }, () => {
    const result = spawnSync('systemd-analyze', ['verify', path('holdfast.service')], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr.trim(), '', 'no warnings');
  });

  it('holdfast.service runs unprivileged with only the right to bind low ports', () => {
    const unit = text('holdfast.service');
    for (const line of [
      'User=holdfast',
      'AmbientCapabilities=CAP_NET_BIND_SERVICE',
      'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'ReadWritePaths=/var/lib/holdfast',
      'Environment=HOLDFAST_DATA_DIR=/var/lib/holdfast',
      'Environment=HOLDFAST_CONFIG=/etc/holdfast/holdfast.toml',
      'Restart=on-failure',
      'LimitNOFILE=65536',
    ]) {
      assert.ok(unit.split('\n').includes(line), `missing: ${line}`);
    }
    assert.doesNotMatch(unit, /^MemoryDenyWriteExecute=/m, 'V8 needs writable executable memory');
  });

  it('the Containerfile runs as holdfast and exposes exactly the ports it configures', () => {
    const image = text('Containerfile');
    assert.match(image, /^FROM node:20-bookworm-slim$/m);
    assert.match(image, /^USER holdfast$/m);
    assert.match(image, /^VOLUME \/var\/lib\/holdfast$/m);
    assert.match(image, /^HEALTHCHECK .*\n.*http:\/\/127\.0\.0\.1:8080\/health\/live/m);
    const configured = [...image.matchAll(/HOLDFAST_\w+_PORT=(\d+)/g)].map((m) => Number(m[1])).sort();
    const exposed = /^EXPOSE (.*)$/m.exec(image)![1]!.split(' ').map(Number).sort();
    assert.deepEqual(exposed, configured);
    assert.ok(
      configured.every((port) => port > 1023),
      'no privilege needed inside the container',
    );
    assert.ok(configured.includes(8080), 'the health check port');
  });

  it('compose.yaml publishes those ports and points Holdfast at its PostgreSQL', () => {
    const compose = text('compose.yaml');
    const image = text('Containerfile');
    const exposed = /^EXPOSE (.*)$/m.exec(image)![1]!.split(' ').sort();
    const published = [...compose.matchAll(/- "\d+:(\d+)"/g)].map((m) => m[1]!).sort();
    assert.deepEqual(published, exposed);
    assert.match(
      compose,
      /HOLDFAST_DATABASE_URL: postgres:\/\/holdfast:\$\{HOLDFAST_DB_PASSWORD\}@postgres:5432\/holdfast/,
    );
    assert.match(compose, /dockerfile: contrib\/Containerfile/);
    assert.match(compose, /condition: service_healthy/);
  });
});
