/**
 * How a query streaming into a document changes with each event, with no vscode import (unit-tested in plain
 * Node). The editor glue asks for the next edit once per frame, so however many tokens arrived in between, they
 * become one edit: either text appended to what was written, or the whole written text replaced.
 */
import type { CenecaEvent } from '../../core/events';

export type StreamedEdit = { kind: 'append'; text: string } | { kind: 'replace'; text: string };

export type StreamState =
  /** The query may still change. */
  | 'streaming'
  /** The query is final (it ran, or the session ended): what is pending is still written, then nothing more. */
  | 'settled'
  /** Cancelled: nothing more is written, not even what is pending. */
  | 'stopped';

export class StreamedText {
  private target = '';
  private writtenText = '';
  /** The document's copy no longer matches what was written (the user edited inside it): replace it whole. */
  private diverged = false;
  private currentState: StreamState = 'streaming';

  /** What the document holds, as far as this stream wrote it. */
  get written(): string {
    return this.writtenText;
  }

  get state(): StreamState {
    return this.currentState;
  }

  /** No later event will change what is to be written. */
  get finished(): boolean {
    return this.currentState !== 'streaming';
  }

  accept(event: CenecaEvent): void {
    if (this.currentState !== 'streaming') return;
    switch (event.type) {
      case 'partial_query':
        // The text so far of this generation round; a correction round starts again from the beginning.
        this.target = event.text;
        break;
      case 'query_complete':
        // The extracted query is exact, where the streamed text may carry what the extractor trimmed at the end.
        this.target = event.query;
        break;
      case 'result_complete':
        // The query ran: no correction round can follow.
        this.currentState = 'settled';
        break;
      case 'complete':
        this.currentState = 'settled';
        break;
      case 'error':
        if (event.recoverable) break; // a correction round follows; its partial_query replaces the text
        this.currentState = event.code === 'cancelled' ? 'stopped' : 'settled';
        break;
      default:
        break;
    }
  }

  /** The edit that takes the document from what was written to what should be there, or none. */
  nextEdit(): StreamedEdit | undefined {
    if (this.currentState === 'stopped') return undefined;
    if (this.diverged) return { kind: 'replace', text: this.target };
    if (this.target === this.writtenText) return undefined;
    if (this.target.startsWith(this.writtenText)) return { kind: 'append', text: this.target.slice(this.writtenText.length) };
    return { kind: 'replace', text: this.target };
  }

  /** The document took the edit. */
  wrote(edit: StreamedEdit): void {
    this.writtenText = edit.kind === 'append' ? this.writtenText + edit.text : edit.text;
    this.diverged = false;
  }

  /** Someone else changed the written text in the document: the next edit replaces it whole. */
  forgetWritten(): void {
    this.diverged = true;
  }
}
