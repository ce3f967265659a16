/** The one door to the extension host: `acquireVsCodeApi()`, typed with the protocol's messages (type-only import). */
import type { WebviewMessage } from '../src/vscode/protocol';

export interface HostApi<State> {
  postMessage(message: WebviewMessage): void;
  getState(): State | undefined;
  setState(state: State): void;
}

declare const acquireVsCodeApi: (() => { postMessage(message: unknown): void; getState(): unknown; setState(state: unknown): void }) | undefined;

let api: HostApi<unknown> | undefined;

/** acquireVsCodeApi may be called once per page; this caches it. Without VS Code (a plain page) it throws. */
export function hostApi<State>(): HostApi<State> {
  if (!api) {
    if (typeof acquireVsCodeApi !== 'function') throw new Error('acquireVsCodeApi is not available: this page must run inside a VS Code webview');
    const raw = acquireVsCodeApi();
    api = {
      postMessage: (message) => raw.postMessage(message),
      getState: () => raw.getState(),
      setState: (state) => raw.setState(state),
    };
  }
  return api as HostApi<State>;
}
