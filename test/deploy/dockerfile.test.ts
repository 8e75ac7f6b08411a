/**
 * deploy/Dockerfile: the cloud image really gets onnxruntime-node's CUDA 12 provider (the
 * package's own install script and metadata decide what "really" means), sits on a matching
 * CUDA + cuDNN base, carries the zoo and every source folder the CLI imports, and runs the
 * right command as an unprivileged user with SIGTERM, a health check and the code's ports.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cloudSettingsFromEnv, DEFAULT_CLOUD_CONFIG, resolveCloudConfig } from '../../cloud/config.js';
import { providerLibraryPath } from '../../cloud/device.js';
import { DEFAULT_EDGE_CONFIG, edgeSettingsFromEnv, resolveEdgeConfig } from '../../edge/config.js';
import {
  cloudReads, edgeReads, effective, effectiveEnv, instructions, parseDockerfile, readText, ROOT, stageNamed,
  type DockerStage, type ParsedDockerfile,
} from './deploy-files.js';

const require = createRequire(import.meta.url);
const ORT_DIR = path.join(ROOT, 'node_modules/onnxruntime-node');
/** onnxruntime-node's install metadata: which extra files each platform's install fetches. */
const metadata = require(path.join(ORT_DIR, 'script/install-metadata.js')) as {
  requirements: Record<string, string[]>;
  manifests: Record<string, Record<string, { package: string; path: string }>>;
};
/** The function the package's postinstall uses to read its install flag (env, npm config, argv). */
const { parseInstallFlag } = require(path.join(ORT_DIR, 'script/install-utils.js')) as { parseInstallFlag: () => string | boolean | undefined };

const dockerfile: ParsedDockerfile = parseDockerfile(readText('deploy/Dockerfile'));
const cloud = stageNamed(dockerfile, 'cloud');
const edge = stageNamed(dockerfile, 'edge');

/** The `--from` stage a stage copies `what` from (COPY --from=<stage> <src> <dst>), by the source path's end. */
function copiedFrom(stage: DockerStage, what: string): DockerStage | undefined {
  for (const i of instructions(stage, 'COPY')) {
    const from = /--from=(\S+)/.exec(i.args)?.[1];
    const paths = i.args.split(' ').filter((t) => !t.startsWith('--'));
    if (from && paths.slice(0, -1).some((p) => p.endsWith(what))) return dockerfile.stages.find((s) => s.name === from);
  }
  return undefined;
}

/** Stages from `stage` up through its FROM <stage> parents. */
function lineage(stage: DockerStage): DockerStage[] {
  const parent = dockerfile.stages.find((s) => s.name !== undefined && s.name === stage.from);
  return [stage, ...(parent ? lineage(parent) : [])];
}

const saved = { ...process.env };
afterEach(() => {
  for (const k of ['ONNXRUNTIME_NODE_INSTALL', 'npm_config_onnxruntime_node_install', 'ONNXRUNTIME_NODE_INSTALL_CUDA', 'npm_config_onnxruntime_node_install_cuda']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

/** What onnxruntime-node's postinstall decides under these variables (and no command-line flag). */
function installFlagUnder(env: Record<string, string>): string | boolean | undefined {
  for (const k of ['ONNXRUNTIME_NODE_INSTALL', 'npm_config_onnxruntime_node_install', 'ONNXRUNTIME_NODE_INSTALL_CUDA', 'npm_config_onnxruntime_node_install_cuda']) delete process.env[k];
  Object.assign(process.env, env);
  return parseInstallFlag();
}

describe('deploy/Dockerfile', () => {
  const deps = copiedFrom(cloud, '/app/node_modules');
  const cudaManifest = metadata.manifests['linux/x64:cuda12'];

  it('the cloud copies its node_modules from a linux/amd64 stage that installs with npm ci and runs the postinstall', () => {
    expect(deps, 'COPY --from=<stage> /app/node_modules in the cloud stage').toBeDefined();
    expect(metadata.requirements['linux/x64']).toContain('cuda12');
    expect(deps!.platform).toBe('linux/amd64');
    const runs = instructions(deps!, 'RUN').map((r) => r.args);
    expect(runs.some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    for (const r of runs) {
      expect(r).not.toMatch(/--ignore-scripts|npm install\b|onnxruntime-node-install(-cuda)?=skip/);
    }
  });

  it('its ONNXRUNTIME_NODE_INSTALL makes onnxruntime-node\'s postinstall fetch the CUDA 12 provider despite .npmrc\'s skip', () => {
    const env = effectiveEnv(dockerfile, deps!);
    expect(env.ONNXRUNTIME_NODE_INSTALL).toBeDefined();
    // The ENV comes before the install, or the install does not see it.
    const order = deps!.instructions.map((i) => i.keyword === 'ENV' && i.args.includes('ONNXRUNTIME_NODE_INSTALL=') ? 'env' : /\bnpm ci\b/.test(i.args) ? 'ci' : '');
    expect(order.indexOf('env')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('env')).toBeLessThan(order.indexOf('ci'));

    // npm hands project config to scripts as npm_config_<key>: this is what .npmrc says.
    const npmrc = /^\s*onnxruntime-node-install\s*=\s*(\S+)/m.exec(readText('.npmrc'))?.[1];
    expect(npmrc, '.npmrc sets onnxruntime-node-install').toBe('skip');
    expect(installFlagUnder({ npm_config_onnxruntime_node_install: npmrc! })).toBe(false);
    // install.js: true installs the platform's whole manifest list, a string that list of names;
    // false skips, and undefined means "whatever the default is", which this test does not accept
    // as asking for CUDA (1.30 returns undefined for the value "cuda12", by a quirk of its parser).
    const flag = installFlagUnder({ npm_config_onnxruntime_node_install: npmrc!, ONNXRUNTIME_NODE_INSTALL: env.ONNXRUNTIME_NODE_INSTALL! });
    const wanted = flag === true ? metadata.requirements['linux/x64']! : typeof flag === 'string' ? flag.split(',').map((s) => s.trim()) : [];
    expect(wanted).toContain('cuda12');
    for (const name of wanted) expect(metadata.manifests[`linux/x64:${name}`], `manifest linux/x64:${name}`).toBeDefined();
  });

  it('the install step fails the build unless every file of the CUDA 12 manifest arrived', () => {
    expect(cudaManifest).toBeDefined();
    const install = instructions(deps!, 'RUN').map((r) => r.args).find((r) => /\bnpm ci\b/.test(r))!;
    expect(install).toContain('node_modules/onnxruntime-node/bin/napi-v6/linux/x64');
    for (const file of Object.keys(cudaManifest!)) {
      expect(install, `checks ${file}`).toMatch(new RegExp(`test -s ${path.basename(file).replace(/\./g, '\\.')}(\\s|$)`));
      // `&&` chains: a failed check fails the RUN.
      expect(install.split('&&').some((part) => part.includes(path.basename(file)))).toBe(true);
    }
  });

  it.runIf(process.platform === 'linux' && process.arch === 'x64')('the file it checks for is the one the cloud looks for to offer CUDA', () => {
    const cuda = path.relative(ROOT, providerLibraryPath('cuda'));
    expect(cuda).toBe('node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so');
    expect(Object.keys(cudaManifest!).map((f) => path.basename(f))).toContain(path.basename(cuda));
  });

  it('the cloud runs on a CUDA runtime base with cuDNN, of the CUDA major version the provider is built for', () => {
    const m = /^nvidia\/cuda:(\d+)\.\d+(?:\.\d+)?-cudnn-runtime-ubuntu\d+\.\d+$/.exec(cloud.from);
    expect(m, `cloud base ${cloud.from}`).not.toBeNull();
    const providerMajor = /^cuda(\d+)$/.exec(metadata.requirements['linux/x64']![0]!)?.[1];
    expect(m![1]).toBe(providerMajor);
    expect(cloud.platform).toBe('linux/amd64');
    // The base has no Node: the binary comes from the same-platform dependency stage.
    expect(copiedFrom(cloud, '/usr/local/bin/node')).toBe(deps);
  });

  it('the zoo is generated at build time and copied into the cloud and edge images', () => {
    const models = dockerfile.stages.find((s) => instructions(s, 'RUN').some((r) => r.args === 'node bin/cleave.mjs models'));
    expect(models, 'a stage runs `node bin/cleave.mjs models`').toBeDefined();
    expect(copiedFrom(cloud, '/app/models')).toBe(models);
    expect(lineage(edge).map((s) => copiedFrom(s, '/app/models')).find(Boolean)).toBe(models);
  });

  it('the dashboard is built once the sources are in, and copied into the cloud and edge images', () => {
    const built = dockerfile.stages.find((st) => instructions(st, 'RUN').some((r) => r.args === 'node bin/build-dashboard.mjs'));
    expect(built, 'a stage runs `node bin/build-dashboard.mjs`').toBeDefined();
    expect(copiedFrom(cloud, '/app/dist')).toBe(built);
    expect(lineage(edge).map((st) => copiedFrom(st, '/app/dist')).find(Boolean)).toBe(built);
    // package.json's prepare builds it from sources a dependency stage does not have: every npm ci drops it first.
    for (const st of dockerfile.stages) {
      for (const r of instructions(st, 'RUN').filter((x) => x.args.includes('npm ci'))) expect(r.args).toMatch(/^npm pkg delete scripts\.prepare && npm ci /);
    }
  });

  for (const [tier, stage, port] of [['cloud', cloud, DEFAULT_CLOUD_CONFIG.port], ['edge', edge, DEFAULT_EDGE_CONFIG.port]] as const) {
    it(`${tier} image: unprivileged, node as the exec-form command, SIGTERM, a readiness health check`, () => {
      const user = effective(dockerfile, stage, 'USER')?.args ?? 'root';
      expect(user.split(':')[0]).not.toMatch(/^(0|root)$/);
      expect(effective(dockerfile, stage, 'STOPSIGNAL')?.args).toBe('SIGTERM');
      expect(JSON.parse(effective(dockerfile, stage, 'CMD')?.args ?? 'null')).toEqual(['node', 'bin/cleave.mjs', tier]);
      const health = effective(dockerfile, stage, 'HEALTHCHECK')?.args ?? '';
      const cmd = /\bCMD (\[.*\])$/.exec(health)?.[1];
      expect(JSON.parse(cmd ?? 'null')).toEqual(['node', 'deploy/docker/healthcheck.mjs', 'ready']);
      expect(lineage(stage).some((s) => instructions(s, 'COPY').some((c) => c.args.startsWith('deploy/docker/healthcheck.mjs ')))).toBe(true);
      expect(effective(dockerfile, stage, 'EXPOSE')?.args).toBe(String(port));
    });

    it(`${tier} image: CLEAVE_* settings the ${tier} reads, listening on all interfaces on its default port`, () => {
      const env = Object.fromEntries(Object.entries(effectiveEnv(dockerfile, stage)).filter(([k]) => k.startsWith('CLEAVE_')));
      for (const name of Object.keys(env)) expect(tier === 'cloud' ? cloudReads(name) : edgeReads(name), `${name} is a ${tier} setting`).toBe(true);
      const config = tier === 'cloud' ? resolveCloudConfig(cloudSettingsFromEnv(env), {}) : resolveEdgeConfig(edgeSettingsFromEnv(env), {});
      expect(config.host).toBe('0.0.0.0');
      expect(config.port).toBe(port);
    });
  }

  it('the cloud image asks for CUDA outright (no silent CPU fallback)', () => {
    expect(resolveCloudConfig(cloudSettingsFromEnv(effectiveEnv(dockerfile, cloud)), {}).device).toBe('cuda');
  });

  it('copies every source folder the code imports, and only paths that exist', () => {
    const copied = new Set<string>();
    for (const stage of [cloud, ...lineage(edge)]) {
      for (const c of instructions(stage, 'COPY')) {
        const paths = c.args.split(' ').filter((t) => !t.startsWith('--'));
        if (c.args.includes('--from=')) {
          // From another stage: what lands under /app (./models, ./node_modules) counts as copied.
          const dest = paths.at(-1)!;
          if (!dest.startsWith('/')) copied.add(dest.replace(/^\.\//, '').split('/')[0]!);
          continue;
        }
        for (const s of paths.slice(0, -1)) {
          expect(existsSync(path.join(ROOT, s)), `COPY source ${s}`).toBe(true);
          copied.add(s.split('/')[0]!);
        }
      }
    }
    // Top-level folders reached by relative imports from the code the images run.
    const imported = new Set<string>();
    const scan = (dir: string): void => {
      for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
        const rel = path.join(dir, e.name);
        if (e.isDirectory()) scan(rel);
        else if (/\.(ts|mjs)$/.test(e.name)) {
          const text = readFileSync(path.join(ROOT, rel), 'utf8');
          for (const m of text.matchAll(/(?:from\s+|import\()\s*'(\.{1,2}\/[^']+)'/g)) {
            const target = path.relative(ROOT, path.resolve(ROOT, dir, m[1]!));
            imported.add(target.split(path.sep)[0]!);
          }
        }
      }
    };
    for (const d of ['bin', 'cli', 'cloud', 'edge', 'shared', 'wasm', 'bench']) scan(d);
    for (const d of imported) expect(copied, `the images copy ${d}/`).toContain(d);
    expect(copied).toContain('bin');
  });

  it('its .dockerignore keeps the host\'s node_modules and models out of the build context', () => {
    const ignore = readText('deploy/Dockerfile.dockerignore').split('\n').map((l) => l.trim());
    expect(ignore).toContain('**/node_modules');
    expect(ignore).toContain('models');
  });
});
