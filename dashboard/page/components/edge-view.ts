/**
 * The edge's dashboard: the header (link, cache), the deployed workflows, and for the selected
 * one either the live view or the editor. Everything refreshes every 2 s while the tab is visible.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, forgetKey, KEY_STORAGE } from '../api.js';
import type { Template, WorkflowDoc } from '../api-types.js';
import { html } from '../html.js';
import { usePolling } from '../use-polling.js';
import { EditorPanel } from './editor-panel.js';
import { HeaderBar } from './header-bar.js';
import { WorkflowList } from './workflow-list.js';
import { WorkflowLive, type PageRun } from './workflow-live.js';

function hasKey(): boolean {
  try {
    return sessionStorage.getItem(KEY_STORAGE) !== null;
  } catch {
    return false;
  }
}

export function EdgeView() {
  const [selected, setSelected] = useState<string | undefined>(() => new URLSearchParams(location.hash.slice(1)).get('workflow') ?? undefined);
  const [tab, setTab] = useState<'live' | 'edit'>('live');
  const [editing, setEditing] = useState<{ doc: WorkflowDoc | undefined; seq: number }>({ doc: undefined, seq: 0 });
  const [templates, setTemplates] = useState<{ list: Template[]; error?: string }>({ list: [] });
  const [lastRun, setLastRun] = useState<PageRun | undefined>(undefined);
  const overview = usePolling(() => api.overview(), []);
  const detail = usePolling(selected !== undefined ? () => api.workflow(selected) : undefined, [selected]);

  useEffect(() => {
    api.templates().then((list) => setTemplates({ list }), (e: Error) => setTemplates({ list: [], error: e.message }));
  }, []);
  // The selection is in the URL's fragment, so a reload or a shared link opens the same workflow.
  useEffect(() => {
    const h = selected !== undefined ? `#workflow=${encodeURIComponent(selected)}` : '';
    if (location.hash !== h) history.replaceState(null, '', `${location.pathname}${h}`);
  }, [selected]);
  // Nothing selected yet: the first deployed workflow.
  useEffect(() => {
    const first = overview.data?.workflows[0]?.name;
    if (selected === undefined && first !== undefined) setSelected(first);
  }, [overview.data, selected]);

  const openEditor = (doc: WorkflowDoc | undefined): void => {
    setEditing((e) => ({ doc, seq: e.seq + 1 }));
    setTab('edit');
  };
  const logout = async (): Promise<void> => {
    await api.logout().catch(() => undefined);
    forgetKey();
    location.assign('/dashboard/login');
  };

  return html`<div class="shell">
    <${HeaderBar} overview=${overview.data} error=${overview.error} paused=${overview.paused} onLogout=${hasKey() ? logout : undefined} />
    <div class="body">
      <${WorkflowList} workflows=${overview.data?.workflows ?? []} selected=${selected}
        onSelect=${(n: string) => { setSelected(n); setTab('live'); }} onNew=${() => openEditor(undefined)} />
      <main>
        <div class="tabs" role="tablist">
          <button type="button" role="tab" id="tab-live" aria-selected=${tab === 'live'} onClick=${() => setTab('live')}>Live</button>
          <button type="button" role="tab" id="tab-edit" aria-selected=${tab === 'edit'} onClick=${() => { if (tab !== 'edit') openEditor(detail.data?.doc); }}>Edit</button>
        </div>
        ${tab === 'edit'
          ? html`<${EditorPanel} key=${editing.seq} templates=${templates.list} templatesError=${templates.error} initial=${editing.doc}
              onDeployed=${(n: string) => { setSelected(n); overview.refresh(); detail.refresh(); }} />`
          : selected === undefined
            ? html`<p class="muted">No workflow deployed yet. <button type="button" class="link" onClick=${() => openEditor(undefined)}>Start from a template</button>.</p>`
            : html`<${WorkflowLive} name=${selected} detail=${detail.data?.name === selected ? detail.data : undefined} error=${detail.error} templates=${templates.list}
                lastRun=${lastRun} onRun=${(r: PageRun) => { setLastRun(r); detail.refresh(); overview.refresh(); }} onEdit=${() => openEditor(detail.data?.doc)} />`}
      </main>
    </div>
  </div>`;
}
