import assert from 'node:assert/strict';
import { assertStreamContract, findContractProblems } from '../../src/core/contract';
import { eventSchema, isTerminal, validateEvent, type CenecaEvent, type EventPayload, type EventType } from '../../src/core/events';

const SESSION = 'sess-1';

/** One valid payload (envelope left out) for every event type of DESIGN §3. */
const samples: { [T in EventType]: Extract<EventPayload, { type: T }> } = {
  status: { type: 'status', message: 'looking at the question', phase: 'classify' },
  progress: { type: 'progress', step: 2, total: 6, percentage: 33.3, etaMs: 1200 },
  classifying: { type: 'classifying', message: 'which database?' },
  databases_selected: { type: 'databases_selected', databases: [{ id: 'pg', kind: 'postgres', reason: 'has orders' }] },
  schema_loading: { type: 'schema_loading', source: 'pg', fraction: 0.5 },
  schema_chunks: {
    type: 'schema_chunks',
    source: 'pg',
    chunks: [{ name: 'orders', kind: 'table', fields: [{ name: 'id', type: 'bigint', note: 'primary key' }], score: 0.9 }],
  },
  planning: { type: 'planning', step: 'splitting the question' },
  plan: { type: 'plan', operations: [{ id: 'op1', source: 'pg', goal: 'count orders', dependsOn: [], uses: ['orders'] }], final: true },
  plan_validated: { type: 'plan_validated', operationCount: 1, estimatedMs: 40 },
  partial_query: { type: 'partial_query', source: 'pg', language: 'sql', delta: 'SEL', text: 'SEL' },
  query_complete: { type: 'query_complete', source: 'pg', language: 'sql', query: 'SELECT 1', usage: { inputTokens: 10, outputTokens: 3 } },
  query_validated: { type: 'query_validated', source: 'pg', ok: true, problems: [] },
  execution_started: { type: 'execution_started', source: 'pg' },
  partial_results: {
    type: 'partial_results',
    source: 'pg',
    resultId: 'r1',
    columns: [{ name: 'n', type: 'int8' }, { name: 'label', type: 'text' }],
    rows: [[1, 'a'], ['2', null], [true, 'c']],
    offset: 0,
  },
  result_complete: { type: 'result_complete', source: 'pg', resultId: 'r1', rowCount: 3, truncated: false, elapsedMs: 12.5 },
  operation_started: { type: 'operation_started', operationId: 'op1' },
  operation_completed: { type: 'operation_completed', operationId: 'op1' },
  aggregating: { type: 'aggregating', step: 'joining', rows: 3 },
  analysis_chunk: { type: 'analysis_chunk', text: 'Most orders ' },
  analysis_complete: { type: 'analysis_complete', text: 'Most orders are recent.', usage: { inputTokens: 5, outputTokens: 7 } },
  error: { type: 'error', code: 'execution_failed', message: 'relation missing', phase: 'execute', recoverable: true, suggestion: 'retry' },
  complete: { type: 'complete', summary: { sources: ['pg'], rowCount: 3, elapsedMs: 99, truncated: false, query: 'SELECT 1', extra: 'kept' } },
};

/** Stamps payloads as a log would: ids 1.., ts rising by one. */
function stamp(payloads: readonly EventPayload[], session = SESSION, firstTs = 1000): CenecaEvent[] {
  return payloads.map((p, i) => ({ ...p, v: 1, session, id: i + 1, ts: firstTs + i }) as CenecaEvent);
}

function envelope(payload: EventPayload, id = 1): Record<string, unknown> {
  return { v: 1, session: SESSION, id, ts: 1000, ...payload };
}

const complete: EventPayload = { type: 'complete', summary: { sources: ['pg'], rowCount: 0, elapsedMs: 1 } };
const status = (message: string): EventPayload => ({ type: 'status', message, phase: 'execute' });
const batch = (resultId: string, offset: number, rows: (string | number | null)[][], columns?: string[]): EventPayload => ({
  type: 'partial_results',
  source: 'pg',
  resultId,
  offset,
  rows,
  ...(columns ? { columns: columns.map((name) => ({ name, type: 'text' })) } : {}),
});

function schemaTypes(): string[] {
  const options = (eventSchema as unknown as { options: Array<{ shape: { type: { value: string } } }> }).options;
  return options.map((o) => o.shape.type.value);
}

describe('events: validateEvent', () => {
  it('has a sample for exactly the types in the schema', () => {
    assert.deepEqual(Object.keys(samples).sort(), schemaTypes().sort());
    assert.equal(schemaTypes().length, 22);
  });

  for (const [type, payload] of Object.entries(samples)) {
    it(`accepts a valid ${type} event and returns it unchanged`, () => {
      const value = envelope(payload as EventPayload);
      const result = validateEvent(value);
      assert.ok(result.ok, result.ok ? '' : result.message);
      assert.deepEqual(result.event, value);
    });
  }

  it('accepts the optional envelope tags operationId, source and progress on any event', () => {
    const value = { ...envelope(samples.analysis_chunk), operationId: 'op1', source: 'pg', progress: { step: 1, total: 4, percentage: 25 } };
    const result = validateEvent(value);
    assert.ok(result.ok);
    assert.deepEqual(result.event, value);
  });

  it('refuses a bad progress tag, naming its path', () => {
    const result = validateEvent({ ...envelope(samples.status), progress: { step: 1, total: 0, percentage: 25 } });
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.message : '', /^invalid event at progress\.total: /);
  });

  for (const field of ['v', 'session', 'id', 'ts'] as const) {
    it(`refuses an event without ${field}, naming the field`, () => {
      const value = envelope(samples.status);
      delete value[field];
      const result = validateEvent(value);
      assert.equal(result.ok, false);
      assert.match(!result.ok ? result.message : '', new RegExp(`^invalid event at ${field}: `));
    });
  }

  const badEnvelopes: Array<[string, Record<string, unknown>, string]> = [
    ['v 2', { v: 2 }, 'v'],
    ['v "1"', { v: '1' }, 'v'],
    ['a non-integer id', { id: 1.5 }, 'id'],
    ['id 0', { id: 0 }, 'id'],
    ['a negative id', { id: -3 }, 'id'],
    ['an id as a string', { id: '1' }, 'id'],
    ['an empty session', { session: '' }, 'session'],
    ['a non-integer ts', { ts: 10.25 }, 'ts'],
    ['a negative ts', { ts: -1 }, 'ts'],
  ];
  for (const [what, patch, path] of badEnvelopes) {
    it(`refuses ${what}`, () => {
      const result = validateEvent({ ...envelope(samples.status), ...patch });
      assert.equal(result.ok, false);
      assert.match(!result.ok ? result.message : '', new RegExp(`^invalid event at ${path}: `));
    });
  }

  it('refuses an unknown type, naming type', () => {
    const result = validateEvent({ v: 1, session: SESSION, id: 1, ts: 1, type: 'sql_complete', query: 'SELECT 1' });
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.message : '', /^invalid event at type: /);
  });

  it('refuses an event without a type', () => {
    const result = validateEvent({ v: 1, session: SESSION, id: 1, ts: 1, message: 'x' });
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.message : '', /^invalid event at type: /);
  });

  for (const value of [null, undefined, 'status', 42, [], [envelope(samples.status)]]) {
    it(`refuses a non-object (${JSON.stringify(value) ?? 'undefined'}) without a path`, () => {
      const result = validateEvent(value);
      assert.equal(result.ok, false);
      assert.match(!result.ok ? result.message : '', /^invalid event: /);
    });
  }

  const badPayloads: Array<[string, Record<string, unknown>, string]> = [
    ['schema_loading with fraction 1.5', { ...samples.schema_loading, fraction: 1.5 }, 'fraction'],
    ['schema_loading with fraction -0.1', { ...samples.schema_loading, fraction: -0.1 }, 'fraction'],
    ['databases_selected with an empty list', { ...samples.databases_selected, databases: [] }, 'databases'],
    ['databases_selected with an unknown kind', { type: 'databases_selected', databases: [{ id: 'x', kind: 'mysql', reason: 'r' }] }, 'databases.0.kind'],
    ['partial_results whose rows are not arrays', { ...samples.partial_results, rows: [1, 2] }, 'rows.0'],
    ['partial_results whose rows is not a list', { ...samples.partial_results, rows: 'a,b' }, 'rows'],
    ['partial_results with an object cell', { ...samples.partial_results, rows: [[1, { a: 1 }]] }, 'rows.0.1'],
    ['partial_results with a negative offset', { ...samples.partial_results, offset: -1 }, 'offset'],
    ['partial_results with a column without a type', { ...samples.partial_results, columns: [{ name: 'n' }] }, 'columns.0.type'],
    ['progress with percentage 101', { ...samples.progress, percentage: 101 }, 'percentage'],
    ['progress with total 0', { ...samples.progress, total: 0 }, 'total'],
    ['status with an unknown phase', { ...samples.status, phase: 'thinking' }, 'phase'],
    ['partial_query with language python', { ...samples.partial_query, language: 'python' }, 'language'],
    ['query_complete with an empty query', { ...samples.query_complete, query: '' }, 'query'],
    ['schema_chunks with score 2', { type: 'schema_chunks', source: 'pg', chunks: [{ name: 't', kind: 'table', fields: [], score: 2 }] }, 'chunks.0.score'],
    ['error without recoverable', { type: 'error', code: 'internal', message: 'boom', phase: 'session' }, 'recoverable'],
    ['error with an empty message', { ...samples.error, message: '' }, 'message'],
    ['complete without a summary', { type: 'complete' }, 'summary'],
    ['complete with a negative rowCount', { type: 'complete', summary: { sources: [], rowCount: -1, elapsedMs: 0 } }, 'summary.rowCount'],
    ['result_complete with truncated missing', { type: 'result_complete', source: 'pg', resultId: 'r', rowCount: 1, elapsedMs: 1 }, 'truncated'],
  ];
  for (const [what, payload, path] of badPayloads) {
    it(`refuses ${what}, naming ${path}`, () => {
      const result = validateEvent({ v: 1, session: SESSION, id: 1, ts: 1, ...payload });
      assert.equal(result.ok, false);
      const message = !result.ok ? result.message : '';
      assert.ok(message.startsWith(`invalid event at ${path}: `), message);
    });
  }
});

describe('events: isTerminal', () => {
  it('complete is terminal', () => assert.equal(isTerminal({ type: 'complete' }), true));
  it('a fatal error is terminal', () => assert.equal(isTerminal({ type: 'error', recoverable: false }), true));
  it('a recoverable error is not terminal', () => assert.equal(isTerminal({ type: 'error', recoverable: true }), false));
  it('no other event type is terminal', () => {
    const terminal = Object.values(samples)
      .filter((p) => isTerminal(p))
      .map((p) => p.type);
    // The error sample is recoverable, so only `complete` counts.
    assert.deepEqual(terminal, ['complete']);
  });
});

describe('contract: findContractProblems / assertStreamContract', () => {
  const fullStream = (): CenecaEvent[] =>
    stamp([
      samples.status,
      samples.classifying,
      samples.databases_selected,
      samples.schema_loading,
      samples.schema_chunks,
      samples.planning,
      samples.plan,
      samples.plan_validated,
      samples.operation_started,
      samples.progress,
      samples.partial_query,
      samples.query_complete,
      samples.query_validated,
      samples.execution_started,
      samples.partial_results,
      batch('r1', 3, [['4', 'd']]),
      samples.result_complete,
      samples.error, // recoverable: the stream goes on
      samples.operation_completed,
      samples.aggregating,
      samples.analysis_chunk,
      samples.analysis_complete,
      samples.complete,
    ]);

  it('finds no problem in a valid complete stream using every event type', () => {
    const stream = fullStream();
    assert.deepEqual(new Set(stream.map((e) => e.type)), new Set(schemaTypes()));
    assert.deepEqual(findContractProblems(stream), []);
    assert.doesNotThrow(() => assertStreamContract(stream));
  });

  it('accepts a stream ending in a fatal error', () => {
    const stream = stamp([status('a'), { type: 'error', code: 'cancelled', message: 'stop', phase: 'execute', recoverable: false }]);
    assert.deepEqual(findContractProblems(stream), []);
  });

  it('accepts equal timestamps', () => {
    const stream = stamp([status('a'), status('b'), complete]).map((e) => ({ ...e, ts: 5 }));
    assert.deepEqual(findContractProblems(stream), []);
  });

  it('reports ids that do not start at 1', () => {
    const stream = stamp([status('a'), status('b'), complete]).map((e) => ({ ...e, id: e.id + 1 }));
    assert.deepEqual(findContractProblems(stream), ['event #1: id 2, expected 1']);
  });

  it('reports a gap in the ids', () => {
    const stream = stamp([status('a'), status('b'), status('c'), complete]);
    stream[2] = { ...stream[2]!, id: 4 };
    stream[3] = { ...stream[3]!, id: 5 };
    assert.deepEqual(findContractProblems(stream), ['event #3: id 4, expected 3']);
  });

  it('reports a repeated id', () => {
    const stream = stamp([status('a'), status('b'), status('c'), complete]);
    stream[2] = { ...stream[2]!, id: 2 };
    stream[3] = { ...stream[3]!, id: 3 };
    assert.deepEqual(findContractProblems(stream), ['event #3: id 2, expected 3']);
  });

  it('reports ts going backwards', () => {
    const stream = stamp([status('a'), status('b'), status('c'), complete]);
    stream[2] = { ...stream[2]!, ts: 900 };
    stream[3] = { ...stream[3]!, ts: 901 };
    assert.deepEqual(findContractProblems(stream), ['event 3: ts 900 goes back from 1001']);
  });

  it('reports two terminal events', () => {
    const stream = stamp([status('a'), complete, complete]);
    assert.deepEqual(findContractProblems(stream), ['event 3 (complete) follows the terminal event']);
  });

  it('reports a complete after a fatal error', () => {
    const stream = stamp([{ type: 'error', code: 'internal', message: 'boom', phase: 'session', recoverable: false }, complete]);
    assert.deepEqual(findContractProblems(stream), ['event 2 (complete) follows the terminal event']);
  });

  it('reports any event after the terminal event', () => {
    const stream = stamp([status('a'), complete, status('late'), samples.analysis_chunk]);
    assert.deepEqual(findContractProblems(stream), ['event 3 (status) follows the terminal event', 'event 4 (analysis_chunk) follows the terminal event']);
  });

  it('reports a stream without a terminal event, unless told not to require one', () => {
    const stream = stamp([status('a'), samples.error]);
    assert.deepEqual(findContractProblems(stream), ['stream has no terminal event (complete or fatal error)']);
    assert.deepEqual(findContractProblems(stream, { requireTerminal: false }), []);
  });

  it('a recoverable error does not end the stream', () => {
    const stream = stamp([samples.error, status('retrying'), samples.error, complete]);
    assert.deepEqual(findContractProblems(stream), []);
  });

  it('reports an empty stream only when a terminal event is required', () => {
    assert.deepEqual(findContractProblems([]), ['stream is empty']);
    assert.deepEqual(findContractProblems([], { requireTerminal: false }), []);
  });

  it('reports mixed session ids', () => {
    const stream = stamp([status('a'), status('b'), complete]);
    stream[1] = { ...stream[1]!, session: 'other' };
    assert.deepEqual(findContractProblems(stream), [`event 2: session other differs from ${SESSION}`]);
  });

  it('reports an invalid event by position and carries on', () => {
    const stream: unknown[] = stamp([status('a'), status('b'), complete]);
    stream[1] = { ...(stream[1] as object), phase: 'nowhere' };
    const problems = findContractProblems(stream);
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems[0]!, /^event #2: invalid event at phase: /);
    // The invalid event is skipped, so the next valid one looks like a gap.
    assert.equal(problems[1], 'event #3: id 3, expected 2');
  });

  it('reports a first row batch without columns', () => {
    const stream = stamp([batch('r1', 0, []), batch('r1', 0, [['a']], ['x']), complete]);
    assert.deepEqual(findContractProblems(stream), ['event 1: first batch of r1 has no columns']);
  });

  it('a first batch without columns also makes every non-empty row too wide', () => {
    const stream = stamp([batch('r1', 0, [['a', 'b']]), complete]);
    assert.deepEqual(findContractProblems(stream), ['event 1: first batch of r1 has no columns', 'event 1: a row has 2 cells for 0 columns']);
  });

  it('accepts later batches without columns that follow on', () => {
    const stream = stamp([batch('r1', 0, [['a'], ['b']], ['x']), batch('r1', 2, [['c']]), batch('r1', 3, []), batch('r1', 3, [['d']]), complete]);
    assert.deepEqual(findContractProblems(stream), []);
  });

  it('reports an offset that does not follow on', () => {
    const stream = stamp([batch('r1', 0, [['a'], ['b']], ['x']), batch('r1', 3, [['c']]), batch('r1', 4, [['d']]), complete]);
    // The checker keeps counting from the expected offset, so a batch that skipped a row puts every later batch off too.
    assert.deepEqual(findContractProblems(stream), ['event 2: offset 3, expected 2', 'event 3: offset 4, expected 3']);
  });

  it('reports a first batch that does not start at offset 0', () => {
    const stream = stamp([batch('r1', 5, [['a']], ['x']), complete]);
    assert.deepEqual(findContractProblems(stream), ['event 1: offset 5, expected 0']);
  });

  it('reports a repeated batch (offset going back)', () => {
    const stream = stamp([batch('r1', 0, [['a']], ['x']), batch('r1', 0, [['a']]), complete]);
    assert.deepEqual(findContractProblems(stream), ['event 2: offset 0, expected 1']);
  });

  it('tracks results separately by resultId', () => {
    const stream = stamp([
      batch('r1', 0, [['a']], ['x']),
      batch('r2', 0, [['p', 'q']], ['y', 'z']),
      batch('r1', 1, [['b']]),
      batch('r2', 1, [['r', 's']]),
      complete,
    ]);
    assert.deepEqual(findContractProblems(stream), []);
  });

  it('reports a column list that shrinks', () => {
    const stream = stamp([batch('r1', 0, [['a', 'b']], ['x', 'y']), batch('r1', 1, [['c']], ['x']), complete]);
    assert.deepEqual(findContractProblems(stream), ['event 2: column list of r1 shrank']);
  });

  it('accepts a column list that grows, and wider rows after it grew', () => {
    const stream = stamp([batch('r1', 0, [['a']], ['x']), batch('r1', 1, [['b', 'c']], ['x', 'y']), batch('r1', 2, [['d', 'e']]), complete]);
    assert.deepEqual(findContractProblems(stream), []);
  });

  it('accepts rows narrower than the columns', () => {
    const stream = stamp([batch('r1', 0, [['a'], []], ['x', 'y']), complete]);
    assert.deepEqual(findContractProblems(stream), []);
  });

  it('reports a row wider than its columns (once per batch)', () => {
    const stream = stamp([batch('r1', 0, [['a', 'b'], ['c', 'd', 'e'], ['f', 'g', 'h']], ['x', 'y']), complete]);
    assert.deepEqual(findContractProblems(stream), ['event 1: a row has 3 cells for 2 columns']);
  });

  it('reports a row wider than the columns of an earlier batch', () => {
    const stream = stamp([batch('r1', 0, [['a', 'b']], ['x', 'y']), batch('r1', 1, [['c', 'd', 'e']]), complete]);
    assert.deepEqual(findContractProblems(stream), ['event 2: a row has 3 cells for 2 columns']);
  });

  it('reports every problem, not just the first', () => {
    const stream = stamp([status('a'), batch('r1', 1, [['a']], ['x']), complete, status('late')]);
    stream[1] = { ...stream[1]!, ts: 10 };
    assert.deepEqual(findContractProblems(stream), [
      'event 2: ts 10 goes back from 1000',
      'event 2: offset 1, expected 0',
      'event 4 (status) follows the terminal event',
    ]);
  });

  it('assertStreamContract throws an error listing the problems', () => {
    const stream = stamp([status('a'), status('b')]);
    stream[1] = { ...stream[1]!, id: 7 };
    assert.throws(
      () => assertStreamContract(stream),
      (error: unknown) =>
        error instanceof Error &&
        error.message === 'stream breaks the event contract:\n  event #2: id 7, expected 2\n  stream has no terminal event (complete or fatal error)',
    );
    assert.doesNotThrow(() => assertStreamContract(stamp([status('a')]), { requireTerminal: false }));
  });

  it('assertStreamContract lists at most 20 problems', () => {
    const stream = stamp(Array.from({ length: 30 }, () => complete));
    assert.equal(findContractProblems(stream).length, 29);
    assert.throws(
      () => assertStreamContract(stream),
      (error: unknown) => error instanceof Error && error.message.split('\n').length === 21 && error.message.includes('event 21 (complete)') && !error.message.includes('event 22 '),
    );
  });
});
