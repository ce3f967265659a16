/** The webview bundle's entry: one bundle for both sidebar views, chosen by `<body data-view>`. */
import { ChatView } from './chat/view';
import { ResultsView } from './results/view';
import type { ChatViewState, ResultsViewState } from './state';
import { hostApi } from './vscode';

function main(): void {
  const root = document.getElementById('app') ?? document.body.appendChild(document.createElement('div'));
  if (document.body.dataset.view === 'chat') new ChatView(root, hostApi<ChatViewState>()).start();
  else new ResultsView(root, hostApi<ResultsViewState>()).start();
}

main();
