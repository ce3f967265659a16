/**
 * Tiny DOM helpers. Data only ever reaches the page as text nodes (`textContent`, `createTextNode`) — never as
 * markup — so a cell holding `<script>` or `<img onerror>` stays inert. Markdown is the one exception and goes
 * through DOMPurify (see markdown.ts).
 */
export type Child = Node | string | null | undefined | false;

export interface ElementProps {
  class?: string;
  text?: string;
  attrs?: Record<string, string>;
  title?: string;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: ElementProps = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.class) element.className = props.class;
  if (props.title) element.title = props.title;
  if (props.attrs) for (const [name, value] of Object.entries(props.attrs)) element.setAttribute(name, value);
  if (props.text !== undefined) element.textContent = props.text;
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** Replaces every child of `parent` with `children`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

export function button(label: string, onClick: () => void, props: ElementProps = {}): HTMLButtonElement {
  const b = el('button', { ...props, text: label, attrs: { type: 'button', ...props.attrs } });
  b.addEventListener('click', onClick);
  return b;
}

/** Sets text only when it changed (cheap to call every frame). */
export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

export function show(element: HTMLElement, visible: boolean): void {
  if (element.hidden === visible) element.hidden = !visible;
}
