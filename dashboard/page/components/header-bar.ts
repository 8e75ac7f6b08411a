/** The top bar: which edge this is, the cloud link (state, RTT, bandwidth), the result cache, and log out. */
import type { EdgeOverview } from '../api-types.js';
import { bytes, mbps, ms, percent } from '../format.js';
import { html } from '../html.js';

export interface HeaderBarProps {
  readonly overview: EdgeOverview | undefined;
  readonly error: Error | undefined;
  readonly paused: boolean;
  readonly onLogout?: () => void;
}

export function HeaderBar({ overview: o, error, paused, onLogout }: HeaderBarProps) {
  const link = o?.link;
  // One flag for RTT and both bandwidths: shown once, after the estimates it may concern.
  const prior = link?.prior ? html` <abbr class="prior" title="RTT or a bandwidth is still the router's prior, not a measurement">(prior)</abbr>` : null;
  return html`<header class="top">
    <h1>Cleave <small>${o ? `${o.edge.name} ${o.edge.version} · ${o.edge.backend}` : 'edge'}</small></h1>
    <dl class="stats">
      <div><dt>link</dt><dd><span class=${`badge link-${link?.state ?? 'unknown'}`} data-link-state=${link?.state ?? ''}>${link?.state ?? '-'}</span></dd></div>
      <div><dt>RTT</dt><dd>${ms(link?.rttMs)}</dd></div>
      <div><dt>up / down</dt><dd>${mbps(link?.upMbps)} / ${mbps(link?.downMbps)}${prior}</dd></div>
      <div><dt>cache hit rate</dt><dd data-cache-hit-rate>${percent(o?.cache.hitRate ?? (o && o.cache.hits + o.cache.misses > 0 ? o.cache.hits / (o.cache.hits + o.cache.misses) : null))}</dd></div>
      <div><dt>cache</dt><dd>${o ? `${o.cache.entries} entries, ${bytes(o.cache.bytes)}` : '-'}</dd></div>
    </dl>
    <div class="actions">
      ${paused ? html`<span class="badge paused">paused (tab hidden)</span>` : null}
      ${error ? html`<span class="badge error" title=${error.message}>${(error as { code?: string }).code ?? 'error'}</span>` : null}
      ${onLogout ? html`<button type="button" class="secondary" onClick=${onLogout}>Log out</button>` : null}
    </div>
  </header>`;
}
