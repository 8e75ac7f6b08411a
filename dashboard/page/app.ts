/**
 * Entry of the dashboard bundle (dist/dashboard/app.js). One bundle for both tiers: the page's
 * `<html data-mode>` says which view to draw; the edge serves it as "edge", the cloud rewrites
 * it to "cloud" (cloud/dashboard-routes.ts).
 */
import { render } from 'preact';
import { CloudView } from './components/cloud-view.js';
import { EdgeView } from './components/edge-view.js';
import { html } from './html.js';

const root = document.getElementById('app');
if (root) {
  const View = document.documentElement.dataset.mode === 'cloud' ? CloudView : EdgeView;
  render(html`<${View} />`, root);
}
