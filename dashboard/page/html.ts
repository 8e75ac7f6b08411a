/**
 * htm bound to preact's `h`: components are written as tagged templates, so the page needs no
 * JSX step and esbuild bundles plain TypeScript. htm parses the templates with a small state
 * machine at run time and caches the result per call site; it never uses eval or new Function,
 * so the page runs under a CSP without 'unsafe-eval'.
 */
import { h } from 'preact';
import htm from 'htm';

/** `html\`<div class=${c}>...</div>\`` -> a preact VNode. */
export const html = htm.bind(h);
