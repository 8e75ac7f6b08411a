/**
 * deploy/k8s: the manifests parse and agree with the code they run: ports and probe paths, the
 * GPU request, a termination period that covers the cloud's drain, an HPA on a gauge the cloud
 * really exports (through the prometheus-adapter rule), a PDB that selects the cloud pods.
 */
import { Gauge } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { cloudSettingsFromEnv, DEFAULT_CLOUD_CONFIG, resolveCloudConfig } from '../../cloud/config.js';
import { CloudMetrics } from '../../cloud/metrics.js';
import { DEFAULT_EDGE_CONFIG, edgeSettingsFromEnv, resolveEdgeConfig } from '../../edge/config.js';
import { cloudReads, edgeReads, filesUnder, literalEnv, readText, servesGet, yamlDoc, yamlDocs } from './deploy-files.js';

interface Probe { httpGet?: { path: string; port: string | number }; periodSeconds?: number; failureThreshold?: number }
interface Container {
  name: string; image: string; command?: string[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  startupProbe?: Probe; readinessProbe?: Probe; livenessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] }; sleep?: { seconds: number } } };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean; capabilities?: { drop?: string[] } };
}
interface Deployment {
  kind: string; apiVersion: string; metadata: { name: string; namespace?: string };
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: { terminationGracePeriodSeconds?: number; securityContext?: { runAsNonRoot?: boolean; runAsUser?: number }; containers: Container[] };
    };
  };
}
interface Service { kind: string; metadata: { name: string }; spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string | number }[] } }
interface Hpa {
  kind: string; apiVersion: string;
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string }; minReplicas: number; maxReplicas: number;
    metrics: { type: string; pods?: { metric: { name: string }; target: { type: string; averageValue: string | number } } }[];
  };
}
interface Pdb { kind: string; apiVersion: string; spec: { selector: { matchLabels: Record<string, string> }; maxUnavailable?: number; minAvailable?: number } }
interface AdapterRule { seriesQuery: string; name: { matches: string; as: string }; metricsQuery: string; resources: { overrides: Record<string, { resource: string }> } }

const K8S = 'deploy/k8s';
const cloudDeployment = yamlDoc<Deployment>(`${K8S}/cloud-deployment.yaml`);
const edgeDeployment = yamlDoc<Deployment>(`${K8S}/edge-deployment.yaml`);
const cloudService = yamlDoc<Service>(`${K8S}/cloud-service.yaml`);
const edgeService = yamlDoc<Service>(`${K8S}/edge-service.yaml`);

function only<T>(list: readonly T[], what: string): T {
  expect(list, what).toHaveLength(1);
  return list[0]!;
}

/** The container port a probe or Service refers to, by name or number. */
function portOf(container: Container, ref: string | number): number | undefined {
  return typeof ref === 'number' ? ref : container.ports?.find((p) => p.name === ref)?.containerPort;
}

/** Milliseconds a preStop hook holds the pod before SIGTERM. */
function preStopMs(container: Container): number {
  const hook = container.lifecycle?.preStop;
  if (hook?.sleep) return hook.sleep.seconds * 1000;
  const cmd = hook?.exec?.command ?? [];
  const i = cmd.findIndex((c) => /(^|\/)sleep$/.test(c));
  expect(i, `preStop ${JSON.stringify(hook)} is a sleep`).toBeGreaterThanOrEqual(0);
  return Number(cmd[i + 1]) * 1000;
}

function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

describe('deploy/k8s manifests', () => {
  it('every manifest parses, carries no namespace, and is listed in kustomization.yaml', () => {
    const kustomization = yamlDoc<{ resources: string[] }>(`${K8S}/kustomization.yaml`);
    const top = filesUnder(K8S).filter((f) => /^deploy\/k8s\/[^/]+\.yaml$/.test(f) && !f.endsWith('kustomization.yaml'));
    expect(kustomization.resources.map((r) => `${K8S}/${r}`).sort()).toEqual(top);
    for (const file of filesUnder(K8S).filter((f) => f.endsWith('.yaml'))) {
      for (const doc of yamlDocs(file) as { kind?: string; metadata?: { namespace?: string } }[]) {
        // Helm values are not a Kubernetes object; everything else is.
        if (!file.endsWith('/values.yaml')) expect(doc.kind, file).toBeTypeOf('string');
        expect(doc.metadata?.namespace, `${file} names no namespace`).toBeUndefined();
      }
    }
  });

  it('the cloud container listens on the cloud default port, on all interfaces, with settings the cloud accepts', () => {
    const c = only(cloudDeployment.spec.template.spec.containers, 'cloud containers');
    const env = literalEnv(c.env);
    for (const name of Object.keys(env)) expect(cloudReads(name), `${name} is a cloud setting`).toBe(true);
    for (const e of c.env ?? []) expect(cloudReads(e.name), `${e.name} is a cloud setting`).toBe(true);
    const config = resolveCloudConfig(cloudSettingsFromEnv(env), {});
    expect(config.host).toBe('0.0.0.0');
    expect(c.ports?.map((p) => p.containerPort)).toEqual([DEFAULT_CLOUD_CONFIG.port]);
    expect(config.port).toBe(DEFAULT_CLOUD_CONFIG.port);
    expect(c.command).toEqual(['node', 'bin/cleave.mjs', 'cloud']);
    const annotations = cloudDeployment.spec.template.metadata.annotations ?? {};
    expect(Number(annotations['prometheus.io/port'])).toBe(DEFAULT_CLOUD_CONFIG.port);
    expect(servesGet('cloud/app.ts', annotations['prometheus.io/path'] ?? '')).toBe(true);
  });

  it('the cloud asks for one NVIDIA GPU and has requests and limits', () => {
    const c = only(cloudDeployment.spec.template.spec.containers, 'cloud containers');
    expect(Number(c.resources?.limits?.['nvidia.com/gpu'])).toBe(1);
    expect(c.resources?.limits?.memory).toBeTypeOf('string');
    expect(c.resources?.requests?.cpu).toBeDefined();
    expect(resolveCloudConfig(cloudSettingsFromEnv(literalEnv(c.env)), {}).device).toBe('cuda');
  });

  for (const [tier, deployment, source, port] of [
    ['cloud', cloudDeployment, 'cloud/app.ts', DEFAULT_CLOUD_CONFIG.port],
    ['edge', edgeDeployment, 'edge/app.ts', DEFAULT_EDGE_CONFIG.port],
  ] as const) {
    it(`${tier}: startup, readiness and liveness probe health endpoints the ${tier} serves, on its port`, () => {
      const c = only(deployment.spec.template.spec.containers, `${tier} containers`);
      const probes = { startup: c.startupProbe, readiness: c.readinessProbe, liveness: c.livenessProbe };
      expect(probes.readiness?.httpGet?.path).toBe('/v2/health/ready');
      expect(probes.liveness?.httpGet?.path).toBe('/v2/health/live');
      for (const [kind, probe] of Object.entries(probes)) {
        expect(probe?.httpGet, `${kind} probe`).toBeDefined();
        expect(servesGet(source, probe!.httpGet!.path), `${source} serves GET ${probe!.httpGet!.path}`).toBe(true);
        expect(portOf(c, probe!.httpGet!.port), `${kind} probe port`).toBe(port);
      }
    });

    it(`${tier}: runs unprivileged`, () => {
      const pod = deployment.spec.template.spec;
      const c = only(pod.containers, `${tier} containers`);
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
      expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
      expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
      expect(c.securityContext?.capabilities?.drop).toContain('ALL');
    });
  }

  it('cloud: the grace period covers the preStop delay plus the SIGTERM drain timeout', () => {
    const pod = cloudDeployment.spec.template.spec;
    const c = only(pod.containers, 'cloud containers');
    const drainMs = resolveCloudConfig(cloudSettingsFromEnv(literalEnv(c.env)), {}).drainTimeoutMs;
    const waitMs = preStopMs(c);
    expect(waitMs).toBeGreaterThan(0);
    expect((pod.terminationGracePeriodSeconds ?? 30) * 1000).toBeGreaterThan(waitMs + drainMs);
  });

  it('edge: the grace period covers the preStop delay plus the Node edge\'s drain for requests in flight', () => {
    const pod = edgeDeployment.spec.template.spec;
    const c = only(pod.containers, 'edge containers');
    const drain = /drainMs\s*\?\?\s*([0-9_]+)/.exec(readText('edge/node.ts'));
    expect(drain, 'edge/node.ts has a default drainMs').not.toBeNull();
    const drainMs = Number(drain![1]!.replace(/_/g, ''));
    expect((pod.terminationGracePeriodSeconds ?? 30) * 1000).toBeGreaterThan(preStopMs(c) + drainMs);
  });

  it('the edge reaches the cloud through the cloud Service, and runs with settings the edge accepts', () => {
    const c = only(edgeDeployment.spec.template.spec.containers, 'edge containers');
    for (const e of c.env ?? []) expect(edgeReads(e.name), `${e.name} is an edge setting`).toBe(true);
    const config = resolveEdgeConfig(edgeSettingsFromEnv(literalEnv(c.env)), {});
    expect(config.host).toBe('0.0.0.0');
    expect(config.port).toBe(DEFAULT_EDGE_CONFIG.port);
    expect(c.ports?.map((p) => p.containerPort)).toEqual([DEFAULT_EDGE_CONFIG.port]);
    const url = new URL(config.cloudUrl ?? '');
    expect(url.hostname).toBe(cloudService.metadata.name);
    expect(Number(url.port)).toBe(only(cloudService.spec.ports, 'cloud service ports').port);
    expect(url.pathname).toBe('/v1/ws');
  });

  for (const [tier, service, deployment] of [['cloud', cloudService, cloudDeployment], ['edge', edgeService, edgeDeployment]] as const) {
    it(`${tier} Service selects the ${tier} pods and targets their port`, () => {
      expect(labelsMatch(service.spec.selector, deployment.spec.template.metadata.labels)).toBe(true);
      expect(labelsMatch(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
      const c = deployment.spec.template.spec.containers[0]!;
      for (const p of service.spec.ports) expect(portOf(c, p.targetPort), `targetPort ${p.targetPort}`).toBe(p.port);
    });
  }

  it('the PodDisruptionBudget selects exactly the cloud pods and allows one voluntary disruption', () => {
    const pdb = yamlDoc<Pdb>(`${K8S}/cloud-pdb.yaml`);
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(labelsMatch(pdb.spec.selector.matchLabels, cloudDeployment.spec.template.metadata.labels)).toBe(true);
    expect(labelsMatch(pdb.spec.selector.matchLabels, edgeDeployment.spec.template.metadata.labels)).toBe(false);
    expect(pdb.spec.maxUnavailable ?? 0).toBeGreaterThanOrEqual(1);
  });

  it('the HPA scales the cloud Deployment on a queue-depth gauge the cloud exports, served by the adapter rule', () => {
    const hpa = yamlDoc<Hpa>(`${K8S}/cloud-hpa.yaml`);
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: cloudDeployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    const metric = only(hpa.spec.metrics, 'HPA metrics');
    expect(metric.type).toBe('Pods');
    expect(metric.pods?.target.type).toBe('AverageValue');
    expect(Number(metric.pods?.target.averageValue)).toBeGreaterThan(0);

    // The adapter serves the metric under `name.as`, from the series its seriesQuery selects.
    const configMap = yamlDoc<{ metadata: { name: string }; data: Record<string, string> }>(`${K8S}/prometheus-adapter/rules-configmap.yaml`);
    const rules = (parseYaml(configMap.data['config.yaml'] ?? '') as { rules: AdapterRule[] }).rules;
    const rule = rules.find((r) => r.name.as === metric.pods?.metric.name);
    expect(rule, `an adapter rule serves ${metric.pods?.metric.name}`).toBeDefined();
    expect(rule!.resources.overrides.pod?.resource).toBe('pod');
    expect(rule!.resources.overrides.namespace?.resource).toBe('namespace');
    expect(rule!.metricsQuery).toContain('<<.Series>>');
    const series = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{/.exec(rule!.seriesQuery)?.[1];
    expect(new RegExp(rule!.name.matches).test(series ?? '')).toBe(true);

    const registered = new CloudMetrics({ processMetrics: false }).registry.getSingleMetric(series ?? '');
    expect(registered, `cloud/metrics.ts registers ${series}`).toBeInstanceOf(Gauge);

    const values = yamlDoc<{ rules: { existing: string; default: boolean } }>(`${K8S}/prometheus-adapter/values.yaml`);
    expect(values.rules.existing).toBe(configMap.metadata.name);
  });

  it('the HPA metric is the batcher queue gauge (pending requests), not some other gauge', async () => {
    const hpa = yamlDoc<Hpa>(`${K8S}/cloud-hpa.yaml`);
    const pending = await new CloudMetrics({ processMetrics: false }).pending.get();
    expect(hpa.spec.metrics[0]?.pods?.metric.name).toBe(pending.name);
  });
});
