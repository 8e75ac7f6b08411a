/**
 * Readers for the static tests of the deployment files (deploy/, wrangler.toml): YAML documents,
 * Dockerfile stages, systemd units and env files, plus the facts those files must agree with,
 * taken from the code itself (which CLEAVE_* variables each tier reads, the routes it serves).
 * Plain parsing only: no network, no Docker, no servers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, type Tags } from 'yaml';
import { cloudSettingsFromEnv } from '../../cloud/config.js';
import { edgeSettingsFromEnv } from '../../edge/config.js';

/** The repository root, with a trailing separator. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A file of the repository as text. */
export function readText(rel: string): string {
  return readFileSync(path.join(ROOT, rel), 'utf8');
}

/** Files under `dir` (relative to the root), recursively, as root-relative paths, sorted. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(rel));
    else out.push(rel);
  }
  return out.sort();
}

/**
 * Compose's `!reset` (drop the value inherited from an earlier file). Kept as a marker object so
 * a test can see where it was used.
 */
const COMPOSE_TAGS: Tags = [{ tag: '!reset', resolve: () => ({ '!reset': true }), collection: 'map' }];

/** Every YAML document of a file; throws naming the file when one does not parse. */
export function yamlDocs(rel: string): unknown[] {
  const docs = parseAllDocuments(readText(rel), { customTags: COMPOSE_TAGS, prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const errors = list.flatMap((d) => [...d.errors, ...d.warnings]);
  if (errors.length) throw new Error(`${rel} does not parse as YAML: ${errors.map((e) => e.message).join('; ')}`);
  return list.map((d) => d.toJS() as unknown).filter((d) => d !== null && d !== undefined);
}

/** The one YAML document of a file. */
export function yamlDoc<T>(rel: string): T {
  const docs = yamlDocs(rel);
  if (docs.length !== 1) throw new Error(`${rel} holds ${docs.length} YAML documents, expected 1`);
  return docs[0] as T;
}

/** One instruction of a Dockerfile, continuation lines joined. */
export interface DockerInstruction {
  /** Upper case: FROM, RUN, COPY, ... */
  readonly keyword: string;
  readonly args: string;
}

/** One build stage: its FROM and the instructions after it. */
export interface DockerStage {
  /** Image or stage it starts from, ARGs substituted. */
  readonly from: string;
  readonly name?: string;
  readonly platform?: string;
  readonly instructions: readonly DockerInstruction[];
}

/** A Dockerfile: the global ARG defaults (before the first FROM) and the stages. */
export interface ParsedDockerfile {
  readonly globalArgs: ReadonlyMap<string, string>;
  readonly stages: readonly DockerStage[];
}

/** Parses the subset of Dockerfile syntax deploy/Dockerfile uses: comments, `\` continuations, ARG, FROM ... AS. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    // Docker drops comment lines before joining continuations.
    if (/^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full) logical.push(full);
  }
  const globalArgs = new Map<string, string>();
  const stages: { from: string; name?: string; platform?: string; instructions: DockerInstruction[] }[] = [];
  for (const l of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(l)!;
    const keyword = m[1]!.toUpperCase();
    const args = m[2]!.replace(/\s+/g, ' ').trim();
    if (keyword === 'FROM') {
      const f = /^(?:--platform=(\S+)\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`FROM ${args} is not of the form FROM [--platform=P] IMAGE [AS NAME]`);
      const from = f[2]!.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, v: string) => globalArgs.get(v) ?? `\${${v}}`);
      stages.push({ from, ...(f[3] ? { name: f[3] } : {}), ...(f[1] ? { platform: f[1] } : {}), instructions: [] });
    } else if (stages.length === 0) {
      if (keyword !== 'ARG') throw new Error(`${keyword} before the first FROM; only ARG may come there`);
      const a = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(args);
      if (a) globalArgs.set(a[1]!, a[2] ?? '');
    } else {
      stages[stages.length - 1]!.instructions.push({ keyword, args });
    }
  }
  return { globalArgs, stages };
}

/** The stage called `name`; throws listing the stages when there is none. */
export function stageNamed(file: ParsedDockerfile, name: string): DockerStage {
  const s = file.stages.find((st) => st.name === name);
  if (!s) throw new Error(`no stage "${name}"; stages: ${file.stages.map((st) => st.name ?? st.from).join(', ')}`);
  return s;
}

/** The stage's instructions with that keyword. */
export function instructions(stage: DockerStage, keyword: string): DockerInstruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

/** ENV of one stage, in the KEY=VALUE form (several per instruction). */
export function stageEnv(stage: DockerStage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of instructions(stage, 'ENV')) {
    for (const pair of i.args.split(' ')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new Error(`ENV ${i.args}: "${pair}" is not KEY=VALUE`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** ENV a stage sees, its parents' (FROM <stage>) first. */
export function effectiveEnv(file: ParsedDockerfile, stage: DockerStage): Record<string, string> {
  const parent = file.stages.find((s) => s.name !== undefined && s.name === stage.from);
  return { ...(parent ? effectiveEnv(file, parent) : {}), ...stageEnv(stage) };
}

/** The last instruction with that keyword a stage sees, looking through FROM <stage> parents. */
export function effective(file: ParsedDockerfile, stage: DockerStage, keyword: string): DockerInstruction | undefined {
  const own = instructions(stage, keyword).at(-1);
  if (own) return own;
  const parent = file.stages.find((s) => s.name !== undefined && s.name === stage.from);
  return parent ? effective(file, parent, keyword) : undefined;
}

/** A systemd unit: section -> key -> values in order (a key may repeat). */
export type SystemdUnit = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;

/** Parses a systemd unit file (sections, Key=Value, comments with # or ;). */
export function parseSystemdUnit(text: string): SystemdUnit {
  const unit = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = new Map();
      unit.set(s[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq <= 0) throw new Error(`unit line "${line}" is outside a section or not Key=Value`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

/** The single value of a unit key; throws when it is missing or repeated. */
export function unitValue(unit: SystemdUnit, section: string, key: string): string {
  const v = unit.get(section)?.get(key);
  if (!v || v.length !== 1) throw new Error(`[${section}] ${key} has ${v?.length ?? 0} values, expected 1`);
  return v[0]!;
}

/** KEY=VALUE lines of an env file (systemd EnvironmentFile, docker --env-file); comments skipped. */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`env file line "${line}" is not KEY=VALUE`);
    env[m[1]!] = m[2]!;
  }
  return env;
}

/** True when the edge's configuration (edge/config.ts) reads this environment variable. */
export function edgeReads(name: string): boolean {
  return Object.keys(edgeSettingsFromEnv({ [name]: 'x' })).length > 0;
}

/** True when the cloud's configuration (cloud/config.ts) reads this environment variable. */
export function cloudReads(name: string): boolean {
  return Object.keys(cloudSettingsFromEnv({ [name]: 'x' })).length > 0;
}

/** CLEAVE_* names in a text, without the error codes (CLEAVE_E_*). */
export function cleaveNames(text: string): string[] {
  return [...new Set(text.match(/\bCLEAVE_[A-Z0-9_]*[A-Z0-9]\b/g) ?? [])].filter((n) => !n.startsWith('CLEAVE_E_')).sort();
}

/** Literal `name: value` env entries of a Kubernetes container or compose service, as a map. */
export function literalEnv(env: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(env)) {
    for (const e of env as { name: string; value?: unknown }[]) if (e.value !== undefined) out[e.name] = String(e.value);
  } else if (env && typeof env === 'object') {
    for (const [k, v] of Object.entries(env)) out[k] = String(v);
  }
  return out;
}

/** Whether an Express-style route `GET path` is registered in a Hono app source file. */
export function servesGet(sourceRel: string, routePath: string): boolean {
  const src = readText(sourceRel);
  const quoted = routePath.replace(/[/.]/g, (c) => `\\${c}`);
  return new RegExp(`app\\.get\\(\\s*['"\`]${quoted}['"\`]`).test(src);
}
