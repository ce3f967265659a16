/**
 * The lexical pre-ranking of the classification catalogue: with many sources and large schemas the model sees
 * only the best-matching sources, each summarised by its best-matching tables, so the prompt stays small.
 * The sources here are in-memory schemas (classification only ever introspects), not databases.
 */
import assert from 'node:assert/strict';
import type { SourceKind } from '../../src/core/events';
import { MAX_CATALOGUE_SOURCES, buildCatalogue, classificationPrompt, lexicalChoice, readClassification } from '../../src/core/pipeline/classify';
import { searchSchema } from '../../src/core/schema/search';
import type { SchemaSnapshot, TableInfo } from '../../src/core/schema/types';
import type { DataSource } from '../../src/core/sources/source';

function table(name: string, columns: string[], comment?: string): TableInfo {
  return {
    schema: 'public',
    name,
    qualifiedName: name,
    kind: 'table',
    rowEstimate: 100,
    ...(comment ? { comment } : {}),
    columns: columns.map((c) => ({ name: c, type: 'text', nullable: true, isPrimaryKey: c === 'id' })),
    primaryKey: ['id'],
    foreignKeys: [],
  };
}

/** A source that only knows its schema; any other call is a test failure. */
function schemaOnlySource(id: string, kind: SourceKind, tables: TableInfo[] | Error): DataSource {
  const unused = (): never => {
    throw new Error('classification must not call this');
  };
  return {
    id,
    kind,
    name: `${id} (${kind})`,
    language: 'sql',
    introspect: async (): Promise<SchemaSnapshot> => {
      if (tables instanceof Error) throw tables;
      return { source: id, tables, loadedAt: 0 };
    },
    searchSchema: (snapshot, question, limit) => searchSchema(snapshot.tables, question, { limit }),
    generationPrompt: unused,
    createExtractor: unused,
    validate: unused,
    execute: unused,
    ping: unused,
    close: async () => undefined,
  };
}

/** 40 tables of filler with names unlike any question below. */
function filler(prefix: string): TableInfo[] {
  return Array.from({ length: 40 }, (_, i) => table(`${prefix}_ledger_${i}`, ['id', `${prefix}_code_${i}`, 'amount_cents', 'booked_on']));
}

describe('classification catalogue', () => {
  const signal = new AbortController().signal;

  it('ranks the source whose schema holds the question words first and keeps at most MAX_CATALOGUE_SOURCES', async () => {
    const sources = Array.from({ length: 30 }, (_, i) => schemaOnlySource(`db${i}`, 'postgres', filler(`unit${i}`)));
    sources.splice(17, 0, schemaOnlySource('billing', 'postgres', [...filler('bill'), table('invoices', ['id', 'customer_id', 'due_date', 'paid_at', 'payment_method'], 'Invoices sent to customers')]));
    const catalogue = await buildCatalogue('unpaid invoices by payment method', sources, signal);
    assert.equal(catalogue.length, MAX_CATALOGUE_SOURCES);
    assert.equal(catalogue[0]!.source.id, 'billing');
    assert.ok(catalogue[0]!.lexicalScore > catalogue[1]!.lexicalScore);
    assert.match(catalogue[0]!.summary.contents, /^invoices "Invoices sent to customers" \(id, .*payment_method/);
    assert.match(catalogue[0]!.summary.contents, /— and 35 more tables$/);

    const prompt = classificationPrompt('unpaid invoices by payment method', catalogue);
    const text = [prompt.system, ...prompt.messages.map((m) => m.content)].join('\n');
    assert.equal(text.match(/^- id: /gm)?.length, MAX_CATALOGUE_SOURCES);
    // 12 sources × 6 tables with a few columns each: small whatever the schemas hold (41 × 31 tables here).
    assert.ok(text.length < 12_000, `catalogue prompt is ${text.length} characters`);
    assert.deepEqual(lexicalChoice(catalogue)?.source.id, 'billing');
  });

  it('kind words count: a question about what people said favours Slack over a same-named table', async () => {
    const catalogue = await buildCatalogue('what did people say in the deploys channel', [
      schemaOnlySource('warehouse', 'postgres', [table('deploys', ['id', 'service', 'finished_at'])]),
      schemaOnlySource('chat', 'slack', [table('#deploys', ['channel', 'user', 'ts', 'text'])]),
    ], signal);
    assert.equal(catalogue[0]!.source.id, 'chat');
  });

  it('an unreachable source is listed as such; a tie or no match gives no lexical choice', async () => {
    const catalogue = await buildCatalogue('zorblax', [schemaOnlySource('down', 'mongodb', new Error('connect ECONNREFUSED')), schemaOnlySource('empty', 'postgres', [])], signal);
    assert.deepEqual(catalogue.map((e) => e.summary.contents).sort(), ['no tables', 'schema not available (the source could not be reached)']);
    assert.equal(lexicalChoice(catalogue), undefined);
    const tie = await buildCatalogue('orders', [schemaOnlySource('a', 'postgres', [table('orders', ['id'])]), schemaOnlySource('b', 'postgres', [table('orders', ['id'])])], signal);
    assert.equal(lexicalChoice(tie), undefined, 'two equally good matches: the lexical pass does not guess');
  });

  it('reads the model answer: listed ids only, each once, reasons trimmed, garbage → nothing', async () => {
    const catalogue = await buildCatalogue('orders', [schemaOnlySource('a', 'postgres', [table('orders', ['id'])]), schemaOnlySource('b', 'mongodb', [])], signal);
    const reply = '```json\n{"databases":[{"id":"b","reason":"  events  "},{"id":"b"},{"id":"zzz","reason":"x"},{"id":"a","reason":""}]}\n```';
    assert.deepEqual(readClassification(reply, catalogue).map((c) => [c.source.id, c.reason]), [['b', 'events'], ['a', 'chosen by the model']]);
    assert.deepEqual(readClassification('I would use a', catalogue), []);
    assert.deepEqual(readClassification('```json\n{"databases":"a"}\n```', catalogue), []);
  });
});
