/**
 * Markdown for the analysis: `marked` turns it into HTML — raw HTML in the text is not passed through but shown
 * as text (the analysis comes from a model that read the data) — then DOMPurify removes everything active
 * (scripts, event handlers, javascript: URLs, forms, styles) before it is inserted. Links open through VS Code
 * (it intercepts clicks in a webview); remote images are refused by the CSP anyway.
 */
import DOMPurify from 'dompurify';
import { Marked } from 'marked';

const marked = new Marked({
  gfm: true,
  breaks: false,
  async: false,
  renderer: {
    html: ({ text }) => escapeHtml(text),
  },
});

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const purifier = DOMPurify(window);
purifier.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    const href = node.getAttribute('href') ?? '';
    if (!/^(https?:|mailto:|#)/i.test(href)) node.removeAttribute('href');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

const CONFIG = {
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'object', 'embed', 'svg', 'math'],
  FORBID_ATTR: ['style', 'class', 'id'],
  ALLOW_DATA_ATTR: false,
};

/** Sanitised HTML for `text` (markdown). */
export function markdownToSafeHtml(text: string): string {
  const html = marked.parse(text) as string;
  return purifier.sanitize(html, CONFIG) as unknown as string;
}

/** Renders markdown into `target`, replacing what it held. */
export function renderMarkdown(target: HTMLElement, text: string): void {
  target.innerHTML = markdownToSafeHtml(text);
}
