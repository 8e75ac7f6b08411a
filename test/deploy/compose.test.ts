/**
 * deploy/compose.yaml (+ compose.cpu.yaml): the cloud reserves a GPU, the edge finds the cloud
 * on the compose network and waits for it to be healthy, ports and settings match the code.
 */
import { describe, expect, it } from 'vitest';
import { cloudSettingsFromEnv, DEFAULT_CLOUD_CONFIG, resolveCloudConfig } from '../../cloud/config.js';
import { PROTOCOL_PATH } from '../../cloud/server.js';
import { DEFAULT_EDGE_CONFIG, edgeSettingsFromEnv, resolveEdgeConfig } from '../../edge/config.js';
import { cloudReads, edgeReads, literalEnv, parseDockerfile, readText, yamlDoc } from './deploy-files.js';

interface ComposeService {
  build?: { context?: string; dockerfile?: string; target?: string };
  image?: string;
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  healthcheck?: { test: string[]; start_period?: string };
  depends_on?: Record<string, { condition: string }>;
  stop_signal?: string;
  stop_grace_period?: string;
  deploy?: { resources?: { reservations?: { devices?: { driver: string; count?: number; capabilities: string[] }[] } } } | { '!reset': true };
}
interface ComposeFile { services: Record<string, ComposeService> }

const compose = yamlDoc<ComposeFile>('deploy/compose.yaml');
const cpu = yamlDoc<ComposeFile>('deploy/compose.cpu.yaml');
const stages = parseDockerfile(readText('deploy/Dockerfile')).stages.map((s) => s.name);

/** Compose durations such as 40s, 1m30s, in ms. */
function durationMs(d: string | undefined): number {
  const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(d ?? '');
  expect(m && d, `duration ${JSON.stringify(d)}`).toBeTruthy();
  return (Number(m![1] ?? 0) * 60 + Number(m![2] ?? 0)) * 1000;
}

/** Container ports published by "host:port:container" or "port:container" entries. */
function containerPorts(s: ComposeService): number[] {
  return (s.ports ?? []).map((p) => Number(p.split(':').at(-1)));
}

describe('deploy/compose.yaml', () => {
  const cloud = compose.services.cloud!;
  const edge = compose.services.edge!;

  it('builds both services from deploy/Dockerfile targets that exist', () => {
    for (const s of [cloud, edge, cpu.services.cloud!]) {
      expect(s.build?.target).toBeDefined();
      expect(stages).toContain(s.build!.target);
    }
    expect(cloud.build?.dockerfile).toBe('deploy/Dockerfile');
    expect(cloud.build?.context).toBe('..');
    expect(edge.build?.target).toBe('edge');
    expect(cloud.build?.target).toBe('cloud');
  });

  it('reserves one NVIDIA GPU for the cloud, and the CPU overlay drops it and runs the cloud on CPU', () => {
    const devices = (cloud.deploy as Exclude<ComposeService['deploy'], { '!reset': true }>)?.resources?.reservations?.devices ?? [];
    expect(devices).toEqual([expect.objectContaining({ driver: 'nvidia', capabilities: expect.arrayContaining(['gpu']) })]);
    expect(devices[0]!.count).toBe(1);
    const over = cpu.services.cloud!;
    expect(over.deploy).toEqual({ '!reset': true });
    expect(over.command).toEqual(['node', 'bin/cleave.mjs', 'cloud']);
    const merged = { ...literalEnv(cloud.environment), ...literalEnv(over.environment) };
    expect(resolveCloudConfig(cloudSettingsFromEnv(merged), {}).device).toBe('cpu');
  });

  it('cloud: settings the cloud reads and accepts, on its default port, drained before Docker kills it', () => {
    const env = literalEnv(cloud.environment);
    for (const name of Object.keys(env)) expect(cloudReads(name), `${name} is a cloud setting`).toBe(true);
    // ${VAR:-} interpolations resolve to '' when unset, which the config treats as unset.
    const config = resolveCloudConfig(cloudSettingsFromEnv(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.startsWith('${') ? '' : v]))), {});
    expect(config.host).toBe('0.0.0.0');
    expect(config.port).toBe(DEFAULT_CLOUD_CONFIG.port);
    expect(containerPorts(cloud)).toEqual([DEFAULT_CLOUD_CONFIG.port]);
    expect(cloud.stop_signal).toBe('SIGTERM');
    expect(durationMs(cloud.stop_grace_period)).toBeGreaterThan(config.drainTimeoutMs);
  });

  it('edge: reaches the cloud service by name on the protocol path, and starts once the cloud is healthy', () => {
    const env = literalEnv(edge.environment);
    for (const name of Object.keys(env)) expect(edgeReads(name), `${name} is an edge setting`).toBe(true);
    const config = resolveEdgeConfig(edgeSettingsFromEnv(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.startsWith('${') ? '' : v]))), {});
    expect(config.host).toBe('0.0.0.0');
    expect(config.port).toBe(DEFAULT_EDGE_CONFIG.port);
    expect(containerPorts(edge)).toEqual([DEFAULT_EDGE_CONFIG.port]);
    expect(config.cloudUrl).toBe(`ws://cloud:${DEFAULT_CLOUD_CONFIG.port}${PROTOCOL_PATH}`);
    expect(edge.depends_on?.cloud?.condition).toBe('service_healthy');
    expect(Object.keys(compose.services)).toContain('cloud');
  });

  it('both services have a readiness health check through the images\' health-check script', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.healthcheck?.test, name).toEqual(['CMD', 'node', 'deploy/docker/healthcheck.mjs', 'ready']);
      expect(durationMs(s.healthcheck?.start_period)).toBeGreaterThan(0);
    }
    expect(readText('deploy/docker/healthcheck.mjs')).toContain('/v2/health/${which}');
  });
});
