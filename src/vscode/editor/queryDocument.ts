/**
 * The generated query streams into a new untitled editor document as tokens arrive (`sql`, or `json` for
 * sources whose queries are JSON). Edits are batched per frame and the whole generation is one undo step.
 */
import * as vscode from 'vscode';
import type { QuestionRecord } from '../questionService';

const FRAME_MS = 16;

export async function streamQueryIntoNewDocument(record: QuestionRecord): Promise<void> {
  let editor: vscode.TextEditor | undefined;
  let written = '';
  let wanted: string | undefined;
  let first = true;

  const flush = async (): Promise<void> => {
    if (!editor || wanted === undefined || wanted === written) return;
    const target = wanted;
    const document = editor.document;
    const ok = await editor.edit(
      (edit) => {
        if (target.startsWith(written)) edit.insert(document.positionAt(document.getText().length), target.slice(written.length));
        else edit.replace(new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length)), target);
      },
      { undoStopBefore: first, undoStopAfter: false },
    );
    if (ok) {
      written = target;
      first = false;
    }
  };

  let lastFlush = 0;
  for await (const event of record.session.log.subscribe(0)) {
    if (event.type === 'partial_query') {
      editor ??= await openDocument(event.language === 'sql' ? 'sql' : 'json');
      wanted = event.text; // a correction round restarts the text: flush replaces it
      if (Date.now() - lastFlush >= FRAME_MS) {
        await flush();
        lastFlush = Date.now();
      }
    } else if (event.type === 'query_complete') {
      editor ??= await openDocument(event.language === 'sql' ? 'sql' : 'json');
      wanted = `${event.query}\n`;
      await flush();
    }
  }
  await flush();
}

async function openDocument(language: string): Promise<vscode.TextEditor> {
  const document = await vscode.workspace.openTextDocument({ language, content: '' });
  return vscode.window.showTextDocument(document, { preview: false, preserveFocus: true, viewColumn: vscode.ViewColumn.Active });
}
