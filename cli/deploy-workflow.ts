/**
 * The action of `cleave deploy workflow` (registered in commands/deploy.ts): read the document,
 * check it here, list every problem with its path, then POST it to the edge and print the answer.
 */
import { CleaveError } from '../shared/errors.js';
import { API_KEY_ENV, EDGE_URL_ENV, type DeployFlags } from './commands/deploy.js';
import { loadConfigOption } from './config-file.js';
import { resolveEdgeLayers } from './config-layers.js';
import { DeployRefused, formatProblems, localProblems, postWorkflow } from './workflow-api.js';
import { readWorkflowFile } from './workflow-file.js';
import { edgeModels, lookupOf, modelsNamed, zooModels } from './workflow-models.js';

/** Checks and deploys `file` as `flags` say; throws CleaveError (the exit status follows its code). */
export async function deployWorkflow(file: string, flags: DeployFlags): Promise<void> {
  const env = process.env;
  const apiKey = flags.apiKey ?? (env[API_KEY_ENV] || undefined);
  const explicitEdge = flags.edge ?? (env[EDGE_URL_ENV] || undefined);
  const edgeUrl = explicitEdge ?? (await configuredEdgeUrl(flags.config, env));
  checkHttpUrl(edgeUrl, explicitEdge !== undefined ? '--edge' : 'the edge settings');

  const doc = await readWorkflowFile(file);
  // A dry run with no edge named stays on this machine: the zoo is what it checks models against.
  const consultEdge = !flags.dryRun || explicitEdge !== undefined;
  const known = consultEdge
    ? await edgeModels(edgeUrl, modelsNamed(doc), apiKey !== undefined ? { headers: { authorization: `Bearer ${apiKey}` } } : {})
    : zooModels();
  const problems = localProblems(doc, lookupOf(known));
  const name = typeof (doc as { name?: unknown } | null)?.name === 'string' ? (doc as { name: string }).name : '(unnamed)';
  if (problems.length > 0) {
    process.stderr.write(`${file}: workflow "${name}" has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${formatProblems(problems)}\n`);
    throw new CleaveError('CLEAVE_E_WORKFLOW_INVALID', `workflow "${name}" in ${file} was not sent: fix the ${problems.length === 1 ? 'problem' : `${problems.length} problems`} above`, {
      file, problems: problems.map((p) => ({ at: p.at, message: p.message })),
    });
  }
  if (flags.dryRun) {
    process.stdout.write(`${file}: workflow "${name}" is valid; not sent (--dry-run)\n`);
    return;
  }
  try {
    const r = await postWorkflow(edgeUrl, doc, { ...(apiKey !== undefined ? { apiKey } : {}), ...(flags.replicas !== undefined ? { replicas: flags.replicas } : {}) });
    if (flags.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else process.stdout.write(`deployed workflow "${r.name}" version ${r.version} (${r.unchanged ? 'unchanged: the same document was already the latest' : 'created'}) to ${edgeUrl}, digest ${r.digest.slice(0, 12)}${r.replicas !== undefined ? `, ${r.replicas} replicas` : ''}\n`);
  } catch (e) {
    if (e instanceof DeployRefused && e.problems.length > 0) {
      process.stderr.write(`${file}: the edge found ${e.problems.length} problem${e.problems.length === 1 ? '' : 's'}:\n${formatProblems(e.problems)}\n`);
    }
    throw e;
  }
}

/** http://host:port of the edge the settings describe (file < env), for deploying to "this" edge. */
async function configuredEdgeUrl(configFlag: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  const file = await loadConfigOption(configFlag, env);
  const c = resolveEdgeLayers({ file, env, flags: {} });
  // An edge bound to every interface is reached on loopback from here.
  const host = c.host === '0.0.0.0' || c.host === '::' ? '127.0.0.1' : c.host.includes(':') ? `[${c.host}]` : c.host;
  return `http://${host}:${c.port}`;
}

function checkHttpUrl(url: string, from: string): void {
  let ok = false;
  try {
    const u = new URL(url);
    ok = u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    ok = false;
  }
  if (!ok) throw new CleaveError('CLEAVE_E_BAD_ARGUMENT', `edge URL ${JSON.stringify(url)} from ${from} is not valid; expected an http:// or https:// URL such as http://127.0.0.1:8787`, { option: '--edge', value: url });
}
