/**
 * `Ceneca: Generate SQL Here` and the "Generate SQL" lens: asks the question and writes the generated SQL into the
 * document below the question as it streams. Edits are batched per frame, the whole generation is one undo step,
 * and the written range is tracked through the user's own edits while it streams.
 */
import * as vscode from 'vscode';
import type { QuestionRecord } from '../questionService';
import type { Services } from '../services';
import { outlineSql, questionAtOrAbove, readQuestionComment } from '../sqlComments';
import { StreamedText, type StreamedEdit } from './streamedText';

/** One edit per display frame at most, however fast the tokens come. */
const FRAME_MS = 16;
/** Rejected edits in a row (the document keeps changing under us, or no editor will take them) before giving up. */
const MAX_FAILED_EDITS = 50;

export function registerGenerateHere(services: Services): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('ceneca.generateSqlHere', () => generateHere(services)),
    vscode.commands.registerCommand('ceneca.generateSqlForComment', (uri: unknown, line: unknown) => generateForComment(services, uri, line)),
  );
}

/** Where the generated SQL goes: the start of the line below the question (or selection), in the document. */
interface Placement {
  question: string;
  /** Zero-based line the SQL is written below. */
  belowLine: number;
}

async function generateHere(services: Services): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('Ceneca: open a SQL file to generate SQL into it.');
    return;
  }
  const placement = (await placementFromEditor(editor)) ?? (await placementFromInput(editor));
  if (!placement) return;
  await generateInto(services, editor, placement);
}

async function generateForComment(services: Services, uri: unknown, line: unknown): Promise<void> {
  if (!(uri instanceof vscode.Uri) || typeof line !== 'number' || !Number.isInteger(line) || line < 0) return;
  const document = await vscode.workspace.openTextDocument(uri);
  if (line >= document.lineCount) return;
  // Read the comment again: the lens may be older than the text.
  const question = readQuestionComment(document.lineAt(line).text);
  if (!question) {
    void vscode.window.showInformationMessage('Ceneca: that line no longer holds a `-- ?` question.');
    return;
  }
  const editor = vscode.window.visibleTextEditors.find((e) => e.document === document) ?? (await vscode.window.showTextDocument(document));
  await generateInto(services, editor, { question, belowLine: line });
}

/** The selection's text (the SQL goes below it, keeping it), else the `-- ?` question on or above the cursor line. */
async function placementFromEditor(editor: vscode.TextEditor): Promise<Placement | undefined> {
  const { document, selection } = editor;
  if (!selection.isEmpty) {
    const selected = document.getText(selection).trim();
    if (!selected) return undefined;
    // A selection ending at the start of a line holds the line above whole: the SQL goes right there.
    const belowLine = selection.end.character === 0 && selection.end.line > selection.start.line ? selection.end.line - 1 : selection.end.line;
    // A selected `-- ? question` line asks its question; any other selection is the question as it reads.
    const question = selected.includes('\n') ? undefined : readQuestionComment(selected);
    return { question: question ?? selected, belowLine };
  }
  const text = document.getText();
  const comment = questionAtOrAbove(text, await outlineSql(text), selection.active.line);
  return comment ? { question: comment.question, belowLine: comment.line } : undefined;
}

async function placementFromInput(editor: vscode.TextEditor): Promise<Placement | undefined> {
  const question = await vscode.window.showInputBox({
    title: 'Ceneca: Generate SQL Here',
    prompt: 'What should the query answer? (Tip: write it as a `-- ? question` comment and use its lens.)',
    placeHolder: 'top 10 customers by revenue this quarter',
    ignoreFocusOut: true,
  });
  if (!question?.trim()) return undefined;
  const cursorLine = editor.selection.active.line;
  // On an empty line the SQL takes that line; otherwise it goes below the cursor's line.
  const onEmptyLine = editor.document.lineAt(cursorLine).isEmptyOrWhitespace;
  return { question: question.trim(), belowLine: onEmptyLine ? cursorLine - 1 : cursorLine };
}

async function generateInto(services: Services, editor: vscode.TextEditor, placement: Placement): Promise<void> {
  // Tracking starts now: the user may type while the engine starts.
  const insertion = new StreamedInsertion(editor, placement.belowLine);
  try {
    const record = await services.questions.ask(placement.question);
    if (!record) return; // the question service already said why
    await followInto(record, insertion);
  } finally {
    insertion.dispose();
  }
}

/** Feeds the session's events to the insertion until the query is final, then closes the undo step. */
async function followInto(record: QuestionRecord, insertion: StreamedInsertion): Promise<void> {
  for await (const event of record.session.log.subscribe(0)) {
    insertion.text.accept(event);
    if (event.type === 'error' && !event.recoverable && event.code !== 'cancelled') {
      void vscode.window.showErrorMessage(`Ceneca: ${event.message}${event.suggestion ? ` (${event.suggestion})` : ''}`);
    }
    insertion.requestFlush();
    // Once the query ran it cannot change; the Results view follows the rows and the analysis.
    if (insertion.text.finished || insertion.halted) break;
  }
  await insertion.finish();
}

/** A document change we make, as `onDidChangeTextDocument` will report it, so our own edits are recognised. */
interface PlannedChange {
  /** `first` adds the line breaks around the range; `close` rewrites the range unchanged to end the undo step. */
  kind: 'first' | 'append' | 'replace' | 'close';
  offset: number;
  length: number;
  text: string;
  /** The streamed-text edit it carries out, taken as written once the document reports the change. */
  edit?: StreamedEdit;
}

/**
 * The streamed SQL's place in one document. The range is tracked by offset through every change reported for the
 * document: the user's edits before it move it, edits inside it make the next edit rewrite it whole.
 */
class StreamedInsertion implements vscode.Disposable {
  readonly text = new StreamedText();
  private readonly document: vscode.TextDocument;
  /** Offset where the written range starts (before the first edit: where the first edit goes). */
  private start: number;
  private length = 0;
  /** Line breaks the first edit adds around the SQL, so it sits on lines of its own while it grows. */
  private readonly leading: string;
  private readonly trailing: string;
  private wroteAny = false;
  /** The user edited the document since our last edit: our next edit must not join the user's undo step. */
  private userEditedSinceWrite = false;
  private undoStepClosed = false;
  private failedEdits = 0;
  private stopped = false;
  private frame?: NodeJS.Timeout;
  /** Edits run one after another, each planned against the document as the previous one left it. */
  private queue: Promise<void> = Promise.resolve();
  private readonly expected: PlannedChange[] = [];
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private editor: vscode.TextEditor,
    belowLine: number,
  ) {
    this.document = editor.document;
    const eol = this.document.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n';
    const lastLine = this.document.lineCount - 1;
    if (belowLine < lastLine) {
      this.start = belowLine < 0 ? 0 : this.document.offsetAt(new vscode.Position(belowLine + 1, 0));
      this.leading = '';
    } else {
      // Below the last line: the SQL needs a line break before it.
      this.start = this.document.offsetAt(this.document.lineAt(lastLine).range.end);
      this.leading = eol;
    }
    this.trailing = eol;
    this.subscriptions = [
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document === this.document) for (const change of e.contentChanges) this.track(change);
      }),
      vscode.workspace.onDidCloseTextDocument((closed) => {
        if (closed === this.document) this.stopped = true;
      }),
    ];
  }

  /** Writing stopped for good: the document closed, or it would not take our edits. */
  get halted(): boolean {
    return this.stopped;
  }

  /** Writes what arrived at the next frame: one edit for all the tokens of the frame. */
  requestFlush(): void {
    if (this.frame || this.stopped) return;
    this.frame = setTimeout(() => {
      this.frame = undefined;
      this.queue = this.queue.then(async () => {
        if (!(await this.flush())) this.requestFlush();
      });
    }, FRAME_MS);
  }

  /** Writes what is left, then ends the undo step. */
  async finish(): Promise<void> {
    if (this.frame) {
      clearTimeout(this.frame);
      this.frame = undefined;
    }
    this.queue = this.queue.then(async () => {
      while (!this.stopped && this.text.nextEdit()) {
        if (!(await this.flush())) await delay(FRAME_MS);
      }
      await this.closeUndoStep();
    });
    await this.queue;
  }

  /** Applies the pending edit, if any; false when the document rejected it (it is planned again next time). */
  private async flush(): Promise<boolean> {
    const edit = this.text.nextEdit();
    if (!edit || this.stopped) return true;
    // The whole generation is one undo step: it opens with the first edit and closes with the last.
    // (The user typing meanwhile splits it: their edits and ours never share an undo step.)
    const undoStopAfter = this.text.finished;
    const undoStopBefore = !this.wroteAny || this.userEditedSinceWrite;
    const ok = await this.apply(this.plan(edit), { undoStopBefore, undoStopAfter });
    if (ok) {
      this.userEditedSinceWrite = false;
      this.undoStepClosed = undoStopAfter;
      this.failedEdits = 0;
      return true;
    }
    if (++this.failedEdits >= MAX_FAILED_EDITS) {
      this.stopped = true;
      void vscode.window.showWarningMessage('Ceneca: stopped writing the SQL: the document would not take the edits.');
    }
    return false;
  }

  /** The stream ended with no final edit (cancelled, or nothing new to write): close the undo step all the same. */
  private async closeUndoStep(): Promise<void> {
    if (!this.wroteAny || this.undoStepClosed || this.stopped) return;
    // An undo stop is only pushed along with an edit: rewrite the range with the text it already holds.
    const unchanged = this.document.getText(this.rangeOf(this.start, this.length));
    await this.apply({ kind: 'close', offset: this.start, length: this.length, text: unchanged }, { undoStopBefore: false, undoStopAfter: true });
    this.undoStepClosed = true;
  }

  /** The document change that carries out an edit of the streamed text. */
  private plan(edit: StreamedEdit): PlannedChange {
    const text = toDocumentLineBreaks(edit.text, this.document.eol);
    if (!this.wroteAny) return { kind: 'first', offset: this.start, length: 0, text: `${this.leading}${text}${this.trailing}`, edit };
    if (edit.kind === 'append') return { kind: 'append', offset: this.start + this.length, length: 0, text, edit };
    return { kind: 'replace', offset: this.start, length: this.length, text, edit };
  }

  private async apply(change: PlannedChange, undo: { undoStopBefore: boolean; undoStopAfter: boolean }): Promise<boolean> {
    this.expected.push(change);
    const range = this.rangeOf(change.offset, change.length);
    let ok = false;
    try {
      const editor = this.visibleEditor();
      if (editor) {
        // Rejected (false) when the document changed since our offsets were computed: planned again next frame.
        ok = await editor.edit((builder) => builder.replace(range, change.text), undo);
      } else {
        // No editor shows the document any more: keep writing, without undo grouping (only editors have it).
        const workspaceEdit = new vscode.WorkspaceEdit();
        workspaceEdit.replace(this.document.uri, range, change.text);
        ok = await vscode.workspace.applyEdit(workspaceEdit);
      }
    } catch {
      ok = false; // e.g. the editor closed while the edit was on its way
    }
    if (this.forgetExpected(change) && ok) {
      // The document reports an edit before the edit resolves; one that changed no text may report nothing.
      this.trackOwn(change);
    }
    return ok;
  }

  private visibleEditor(): vscode.TextEditor | undefined {
    if (vscode.window.visibleTextEditors.includes(this.editor)) return this.editor;
    const other = vscode.window.visibleTextEditors.find((e) => e.document === this.document);
    if (other) this.editor = other;
    return other;
  }

  /** Follows one reported change: ours move the range as planned; the user's shift it, or make it diverge. */
  private track(change: vscode.TextDocumentContentChangeEvent): void {
    const ownIndex = this.expected.findIndex((e) => e.offset === change.rangeOffset && e.length === change.rangeLength && e.text === change.text);
    if (ownIndex >= 0) {
      const [own] = this.expected.splice(ownIndex, 1);
      this.trackOwn(own!);
      return;
    }
    this.userEditedSinceWrite = true;
    const { rangeOffset: offset, rangeLength: length } = change;
    const delta = change.text.length - length;
    if (offset + length <= this.start) {
      this.start += delta; // before the range (typing right before it too): the range moves with the text
    } else if (offset < this.start + this.length) {
      // Inside or across the range: the range takes the change in, and the next edit rewrites it whole.
      const end = Math.max(this.start + this.length, offset + length) + delta;
      this.start = Math.min(this.start, offset);
      this.length = end - this.start;
      this.text.forgetWritten();
    }
    // After the range: nothing moves.
  }

  private trackOwn(own: PlannedChange): void {
    if (own.edit) this.text.wrote(own.edit);
    switch (own.kind) {
      case 'first':
        // The range is the SQL between the line breaks the first edit added.
        this.start = own.offset + this.leading.length;
        this.length = own.text.length - this.leading.length - this.trailing.length;
        this.wroteAny = true;
        break;
      case 'append':
        this.length += own.text.length;
        break;
      case 'replace':
      case 'close':
        this.start = own.offset;
        this.length = own.text.length;
        break;
    }
  }

  /** Removes a planned change not yet reported; true when it was still waiting. */
  private forgetExpected(change: PlannedChange): boolean {
    const index = this.expected.indexOf(change);
    if (index < 0) return false;
    this.expected.splice(index, 1);
    return true;
  }

  private rangeOf(offset: number, length: number): vscode.Range {
    return new vscode.Range(this.document.positionAt(offset), this.document.positionAt(offset + length));
  }

  dispose(): void {
    if (this.frame) clearTimeout(this.frame);
    this.frame = undefined;
    this.stopped = true;
    for (const subscription of this.subscriptions) subscription.dispose();
  }
}

function toDocumentLineBreaks(text: string, eol: vscode.EndOfLine): string {
  const unified = text.replace(/\r\n?/g, '\n');
  return eol === vscode.EndOfLine.CRLF ? unified.replace(/\n/g, '\r\n') : unified;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
