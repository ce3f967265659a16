import assert from 'node:assert/strict';
import type { CenecaEvent, EventPayload } from '../../src/core/events';
import { SessionLog } from '../../src/core/session/log';
import { StreamedText, type StreamedEdit } from '../../src/vscode/editor/streamedText';

/** Stamps payloads into real events (ids, envelope) through a session log, as the engine does. */
function recorder(): (payload: EventPayload) => CenecaEvent {
  const log = new SessionLog('streamed-text-test');
  return (payload) => log.append(payload);
}

const partial = (text: string, delta = text): EventPayload => ({ type: 'partial_query', source: 'shop', language: 'sql', delta, text });
const queryComplete = (query: string): EventPayload => ({ type: 'query_complete', source: 'shop', language: 'sql', query });

/** Applies an edit to a plain string standing in for the streamed range of the document. */
const applyTo = (document: string, edit: StreamedEdit): string => (edit.kind === 'append' ? document + edit.text : edit.text);

describe('StreamedText: how the streamed query changes the document', () => {
  it('turns all tokens that arrived within one frame into one append', () => {
    const emit = recorder();
    const text = new StreamedText();
    text.accept(emit(partial('SEL')));
    text.accept(emit(partial('SELECT', 'ECT')));
    text.accept(emit(partial('SELECT na', ' na')));
    assert.deepEqual(text.nextEdit(), { kind: 'append', text: 'SELECT na' });
    text.wrote({ kind: 'append', text: 'SELECT na' });
    assert.equal(text.nextEdit(), undefined, 'nothing new: no edit');
    text.accept(emit(partial('SELECT name', 'me')));
    assert.deepEqual(text.nextEdit(), { kind: 'append', text: 'me' });
  });

  it('does not take the edit as written until the document took it (a rejected edit is asked for again)', () => {
    const emit = recorder();
    const text = new StreamedText();
    text.accept(emit(partial('SELECT 1')));
    assert.deepEqual(text.nextEdit(), { kind: 'append', text: 'SELECT 1' });
    text.accept(emit(partial('SELECT 1 + 1', ' + 1')));
    assert.deepEqual(text.nextEdit(), { kind: 'append', text: 'SELECT 1 + 1' });
  });

  it('at query_complete writes the exact final query: appended when it extends the text, else replacing it', () => {
    const emit = recorder();
    const extending = new StreamedText();
    extending.accept(emit(partial('SELECT name FROM c')));
    extending.wrote({ kind: 'append', text: 'SELECT name FROM c' });
    extending.accept(emit(queryComplete('SELECT name FROM customers')));
    assert.deepEqual(extending.nextEdit(), { kind: 'append', text: 'ustomers' });

    const trimmed = new StreamedText();
    trimmed.accept(emit(partial('SELECT 1;\n  ')));
    trimmed.wrote({ kind: 'append', text: 'SELECT 1;\n  ' });
    trimmed.accept(emit(queryComplete('SELECT 1')));
    assert.deepEqual(trimmed.nextEdit(), { kind: 'replace', text: 'SELECT 1' });
  });

  it("replaces what was written when the model's correction round restarts the query", () => {
    const emit = recorder();
    const text = new StreamedText();
    text.accept(emit(partial('SELECT nme FROM customers')));
    text.accept(emit(queryComplete('SELECT nme FROM customers')));
    text.wrote(text.nextEdit()!);
    text.accept(emit({ type: 'query_validated', source: 'shop', ok: true, problems: [] }));
    text.accept(emit({ type: 'execution_started', source: 'shop' }));
    text.accept(emit({ type: 'error', code: 'execution_failed', message: 'column "nme" does not exist', phase: 'execute', recoverable: true }));
    text.accept(emit({ type: 'status', phase: 'generate', message: 'asking the model to correct the query' }));
    assert.equal(text.finished, false, 'a recoverable error does not end the stream');
    text.accept(emit(partial('SELECT na')));
    assert.deepEqual(text.nextEdit(), { kind: 'replace', text: 'SELECT na' });
    text.wrote({ kind: 'replace', text: 'SELECT na' });
    text.accept(emit(partial('SELECT name', 'me')));
    assert.deepEqual(text.nextEdit(), { kind: 'append', text: 'me' }, 'the new round then grows by appends');
  });

  it('settles once the query ran: later events change nothing, what is pending is still written', () => {
    const emit = recorder();
    const text = new StreamedText();
    text.accept(emit(queryComplete('SELECT 1')));
    text.accept(emit({ type: 'result_complete', source: 'shop', resultId: 'r1', rowCount: 1, truncated: false, elapsedMs: 3 }));
    assert.equal(text.state, 'settled');
    assert.equal(text.finished, true);
    text.accept(emit(partial('SELECT 2')));
    assert.deepEqual(text.nextEdit(), { kind: 'append', text: 'SELECT 1' });
  });

  it('settles on a fatal error (the failed query stays visible) and on complete', () => {
    const emit = recorder();
    const failed = new StreamedText();
    failed.accept(emit(queryComplete('SELECT pg_sleep(1)')));
    failed.accept(emit({ type: 'error', code: 'validation_failed', message: 'not allowed', phase: 'validate', recoverable: false, suggestion: 'rephrase' }));
    assert.equal(failed.state, 'settled');
    assert.deepEqual(failed.nextEdit(), { kind: 'append', text: 'SELECT pg_sleep(1)' });

    const completed = new StreamedText();
    completed.accept(recorder()({ type: 'complete', summary: { sources: ['shop'], rowCount: 0, elapsedMs: 1 } }));
    assert.equal(completed.state, 'settled');
    assert.equal(completed.nextEdit(), undefined);
  });

  it('stops writing on cancel, even what is pending', () => {
    const emit = recorder();
    const text = new StreamedText();
    text.accept(emit(partial('SELECT')));
    text.wrote(text.nextEdit()!);
    text.accept(emit(partial('SELECT name', ' name')));
    text.accept(emit({ type: 'error', code: 'cancelled', message: 'cancelled by the user', phase: 'generate', recoverable: false }));
    assert.equal(text.state, 'stopped');
    assert.equal(text.nextEdit(), undefined);
    assert.equal(text.written, 'SELECT');
  });

  it('replaces the whole text after the user edited inside it', () => {
    const emit = recorder();
    const text = new StreamedText();
    text.accept(emit(partial('SELECT name')));
    text.wrote(text.nextEdit()!);
    text.forgetWritten();
    assert.deepEqual(text.nextEdit(), { kind: 'replace', text: 'SELECT name' });
    text.wrote({ kind: 'replace', text: 'SELECT name' });
    assert.equal(text.nextEdit(), undefined);
  });

  it('over a whole recorded stream, written once per frame, ends with exactly the final query in few edits', () => {
    const emit = recorder();
    const final = 'SELECT c.name, sum(o.total) AS revenue\nFROM customers c JOIN orders o ON o.customer_id = c.id\nGROUP BY c.name\nORDER BY revenue DESC\nLIMIT 10';
    // The model's text as it streams, in 3-character tokens, with a trailing fence remnant the extractor drops.
    const streamed = `${final}\n`;
    const events: CenecaEvent[] = [emit({ type: 'progress', step: 3, total: 6, percentage: 33 })];
    for (let end = 3; end < streamed.length + 3; end += 3) {
      const text = streamed.slice(0, Math.min(end, streamed.length));
      events.push(emit(partial(text, text.slice(-3))));
    }
    events.push(emit(queryComplete(final)));
    events.push(emit({ type: 'result_complete', source: 'shop', resultId: 'r1', rowCount: 10, truncated: false, elapsedMs: 5 }));

    const text = new StreamedText();
    let document = '';
    let edits = 0;
    events.forEach((event, index) => {
      text.accept(event);
      if (index % 8 !== 7 && index !== events.length - 1) return; // a frame every 8 events
      const edit = text.nextEdit();
      if (!edit) return;
      document = applyTo(document, edit);
      text.wrote(edit);
      edits++;
    });
    assert.equal(document, final);
    assert.ok(edits < events.length / 4, `${edits} edits for ${events.length} events`);
    assert.equal(text.finished, true);
  });
});
