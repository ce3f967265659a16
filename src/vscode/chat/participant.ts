/**
 * The @ceneca chat participant: asks the engine the user's question and streams the answer into the chat. The
 * event → chat mapping lives in chatRenderer (pure, tested against a test double); this file is the glue.
 */
import * as vscode from 'vscode';
import type { Services } from '../services';
import { renderToChat, type ChatSink } from './chatRenderer';

const PARTICIPANT_ID = 'ceneca.chat';

export function registerChatParticipant(services: Services): vscode.Disposable {
  // Older hosts (or editors without chat) have no chat API: the rest of the extension works without it.
  if (typeof vscode.chat?.createChatParticipant !== 'function') return new vscode.Disposable(() => undefined);
  const participant = vscode.chat.createChatParticipant(PARTICIPANT_ID, (request, context, stream, token) => answer(services, request, context, stream, token));
  participant.iconPath = vscode.Uri.joinPath(services.context.extensionUri, 'media', 'ceneca.svg');
  return participant;
}

async function answer(
  services: Services,
  request: vscode.ChatRequest,
  context: vscode.ChatContext,
  stream: vscode.ChatResponseStream,
  token: vscode.CancellationToken,
): Promise<vscode.ChatResult> {
  const question = request.prompt.trim();
  if (!question) {
    stream.markdown('Ask a question about your data, for example *top 10 customers by revenue this quarter*.');
    return {};
  }
  // Earlier Ceneca turns in this conversation make this one a follow-up: the previous answer travels as context.
  const followUp = context.history.some((turn) => turn.participant === PARTICIPANT_ID);
  const record = await services.questions.ask(question, { followUp });
  if (!record) {
    stream.markdown('Ceneca could not start on the question: see the notification for what to set up.');
    return { errorDetails: { message: 'Ceneca could not start' } };
  }
  const sessionId = record.session.id;
  const cancelling = token.onCancellationRequested(() => services.questions.cancel(sessionId));
  if (token.isCancellationRequested) services.questions.cancel(sessionId); // stopped while the engine was starting
  try {
    const outcome = await renderToChat(record.session.log.subscribe(0), chatSink(stream));
    return { metadata: { sessionId, query: outcome.query, rowCount: outcome.rowCount, error: outcome.error?.code } };
  } finally {
    cancelling.dispose();
  }
}

function chatSink(stream: vscode.ChatResponseStream): ChatSink {
  return {
    progress: (text) => stream.progress(text),
    markdown: (text) => stream.markdown(text),
    button: (command, title) => stream.button({ command, title }),
  };
}
