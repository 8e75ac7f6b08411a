/**
 * A JSON editor: a textarea with a line-number gutter that scrolls with it and marks the line a
 * syntax error is on. Plain text editing on purpose: no editor library (megabytes, and most want
 * eval-free builds configured by hand) for a document of a few dozen lines.
 */
import { useRef } from 'preact/hooks';
import { html } from '../html.js';

export interface JsonEditorProps {
  readonly value: string;
  readonly onInput: (text: string) => void;
  /** 1-based line of a syntax error, to mark in the gutter. */
  readonly errorLine?: number | undefined;
}

export function JsonEditor({ value, onInput, errorLine }: JsonEditorProps) {
  const gutter = useRef<HTMLPreElement>(null);
  const count = value.split('\n').length;
  const numbers = Array.from({ length: count }, (_, i) => i + 1);
  return html`<div class="json-editor">
    <pre class="gutter" aria-hidden="true" ref=${gutter}>${numbers.map((n) => html`<span class=${n === errorLine ? 'bad' : ''}>${n}</span>`)}</pre>
    <textarea id="doc-json" aria-label="workflow document (JSON)" spellcheck=${false} autocomplete="off" wrap="off"
      value=${value}
      onInput=${(e: Event) => onInput((e.currentTarget as HTMLTextAreaElement).value)}
      onScroll=${(e: Event) => { if (gutter.current) gutter.current.scrollTop = (e.currentTarget as HTMLTextAreaElement).scrollTop; }}></textarea>
  </div>`;
}
