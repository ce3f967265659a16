import assert from 'node:assert/strict';
import type { SchemaSnapshot } from '../../src/core/schema/types';
import type { DataSource, RowBatch } from '../../src/core/sources/source';
import { DeferredSource } from '../../src/vscode/deferredSource';

/** A source that records what it was asked; no estimateCost, like MongoDB's. */
function fakeSource(log: string[]): DataSource {
  const snapshot = { tables: [] } as unknown as SchemaSnapshot;
  return {
    id: 'crm',
    kind: 'mongodb',
    name: 'CRM',
    language: 'mongodb',
    introspect: async () => (log.push('introspect'), snapshot),
    searchSchema: () => (log.push('searchSchema'), []),
    generationPrompt: () => (log.push('generationPrompt'), { system: '', messages: [] }) as never,
    createExtractor: () => ({ push: () => '', finish: () => undefined }),
    validate: async (query) => ({ ok: true, problems: [], query }),
    async *execute(): AsyncIterable<RowBatch> {
      log.push('execute');
      yield { rows: [[1]] };
    },
    ping: async () => void log.push('ping'),
    close: async () => void log.push('close'),
  };
}

describe('deferred source (secrets read on first use)', () => {
  it('builds the source once, on the first call, and passes calls on', async () => {
    const log: string[] = [];
    let builds = 0;
    const source = new DeferredSource('crm', 'mongodb', 'CRM', async () => (builds++, fakeSource(log)));
    assert.equal(source.language, 'mongodb');
    assert.equal(builds, 0, 'listing a source builds nothing');
    const snapshot = await source.introspect();
    source.searchSchema(snapshot, 'q', 5);
    await source.ping();
    const batches: RowBatch[] = [];
    for await (const batch of source.execute('{}', { maxRows: 10, signal: new AbortController().signal })) batches.push(batch);
    assert.deepEqual(batches, [{ rows: [[1]] }]);
    assert.equal(await source.estimateCost('{}', new AbortController().signal), undefined, 'no estimate where the real source has none');
    assert.equal(builds, 1);
    assert.deepEqual(log, ['introspect', 'searchSchema', 'ping', 'execute']);
    await source.close();
    assert.deepEqual(log.at(-1), 'close');
  });

  it('refuses the synchronous calls before the source is open', () => {
    const source = new DeferredSource('chat', 'slack', 'Chat', async () => fakeSource([]));
    assert.equal(source.language, 'slack');
    assert.throws(() => source.createExtractor(), /not open yet/);
  });

  it('tries a failed build again (e.g. once the missing token is saved)', async () => {
    let attempts = 0;
    const source = new DeferredSource('chat', 'slack', 'Chat', async () => {
      attempts++;
      if (attempts === 1) throw new Error('no Slack token is saved for "chat"');
      return fakeSource([]);
    });
    await assert.rejects(source.ping(), /no Slack token/);
    await source.ping();
    assert.equal(attempts, 2);
  });

  it('closes nothing when it was never used', async () => {
    let builds = 0;
    const source = new DeferredSource('chat', 'slack', 'Chat', async () => (builds++, fakeSource([])));
    await source.close();
    assert.equal(builds, 0);
  });
});
