/**
 * The generated query streams into a new untitled editor document as tokens arrive (`sql`, or `json` for
 * sources whose queries are JSON). Edits are batched per frame and the whole generation is one undo step;
 * StreamedText decides what each edit is (append, or replace when a correction round restarts the query).
 */
import * as vscode from 'vscode';
import type { QuestionRecord } from '../questionService';
import { StreamedText } from './streamedText';

const FRAME_MS = 16;

export async function streamQueryIntoNewDocument(record: QuestionRecord): Promise<void> {
  const text = new StreamedText();
  let editor: vscode.TextEditor | undefined;
  let firstEdit = true;
  let lastFlush = 0;

  const flush = async (): Promise<void> => {
    const edit = text.nextEdit();
    if (!editor || !edit) return;
    const document = editor.document;
    const end = document.positionAt(document.getText().length);
    const applied = await editor.edit(
      (builder) => (edit.kind === 'append' ? builder.insert(end, edit.text) : builder.replace(new vscode.Range(document.positionAt(0), end), edit.text)),
      { undoStopBefore: firstEdit, undoStopAfter: false },
    );
    if (applied) {
      text.wrote(edit);
      firstEdit = false;
    } else {
      text.forgetWritten(); // the user changed the document: the next edit replaces it whole
    }
  };

  for await (const event of record.session.log.subscribe(0)) {
    text.accept(event);
    if (event.type === 'partial_query' || event.type === 'query_complete') {
      editor ??= await openDocument(event.language === 'sql' ? 'sql' : 'json');
      if (event.type === 'query_complete' || Date.now() - lastFlush >= FRAME_MS) {
        await flush();
        lastFlush = Date.now();
      }
    }
  }
  await flush();
}

async function openDocument(language: string): Promise<vscode.TextEditor> {
  const document = await vscode.workspace.openTextDocument({ language, content: '' });
  return vscode.window.showTextDocument(document, { preview: false, preserveFocus: true, viewColumn: vscode.ViewColumn.Active });
}
