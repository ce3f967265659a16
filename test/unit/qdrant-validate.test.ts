/** The Qdrant search validator: shape, Qdrant filter syntax, and collection / vector / payload-key checks. */
import assert from 'node:assert/strict';
import { validateQdrantSearch, type CollectionMeta } from '../../src/core/sources/qdrant';

const PRODUCTS: CollectionMeta = {
  name: 'products',
  vectors: [{ name: '', size: 64, distance: 'Cosine' }],
  payloadKeys: new Set(['name', 'category', 'price', 'tags', 'brand', 'brand.country', 'variants', 'variants.color', 'variants.size', 'released']),
};
const ARTICLES: CollectionMeta = {
  name: 'articles',
  vectors: [
    { name: 'title', size: 64, distance: 'Cosine' },
    { name: 'body', size: 64, distance: 'Dot' },
  ],
  payloadKeys: new Set(['title', 'author']),
};
const BARE: CollectionMeta = { name: 'bare', vectors: [], payloadKeys: new Set(['kind']) };
const COLLECTIONS = new Map([PRODUCTS, ARTICLES, BARE].map((m) => [m.name, m]));

/** `null`: validate without the schema. */
function check(search: unknown, collections: ReadonlyMap<string, CollectionMeta> | null = COLLECTIONS) {
  return validateQdrantSearch(typeof search === 'string' ? search : JSON.stringify(search), collections ?? undefined);
}

function problems(search: unknown, collections?: ReadonlyMap<string, CollectionMeta>): string {
  const result = check(search, collections);
  assert.equal(result.ok, false, `expected a problem with ${JSON.stringify(search)}`);
  return result.problems.join(' | ');
}

describe('Qdrant search validation', () => {
  it('accepts a similarity search and normalises it (keys in a fixed order, query_text trimmed)', () => {
    const result = check({ limit: 5, query_text: '  red kettle ', collection: 'products', filter: { must: [{ key: 'category', match: { value: 'kitchen' } }] } });
    assert.equal(result.ok, true, result.problems.join('; '));
    assert.deepEqual(JSON.parse(result.query!), { collection: 'products', query_text: 'red kettle', filter: { must: [{ key: 'category', match: { value: 'kitchen' } }] }, limit: 5 });
    assert.ok(result.query!.startsWith('{"collection":"products","query_text":"red kettle"'));
  });

  it('a null, empty or blank query_text is a filter-only search; an empty filter is dropped', () => {
    for (const queryText of [null, '', '   ']) {
      const result = check({ collection: 'bare', query_text: queryText, filter: {} });
      assert.equal(result.ok, true, result.problems.join('; '));
      assert.deepEqual(JSON.parse(result.query!), { collection: 'bare', query_text: null });
    }
    assert.equal(check({ collection: 'bare' }).ok, true);
  });

  it('fills in the first named vector, keeps a valid "using", refuses an unknown one', () => {
    assert.equal(JSON.parse(check({ collection: 'articles', query_text: 'rust' }).query!).using, 'title');
    assert.equal(JSON.parse(check({ collection: 'articles', query_text: 'rust', using: 'body' }).query!).using, 'body');
    assert.match(problems({ collection: 'articles', query_text: 'rust', using: 'summary' }), /unknown vector "summary" in collection "articles"; its vectors are: title, body/);
    assert.match(problems({ collection: 'products', query_text: 'kettle', using: 'title' }), /single unnamed vector; leave out "using"/);
    assert.match(problems({ collection: 'bare', query_text: 'x' }), /has no dense vector.*"query_text": null/);
    // "using" without query_text is harmless
    assert.equal(check({ collection: 'articles', using: 'body', filter: { must: [{ key: 'author', match: { value: 'ann' } }] } }).ok, true);
  });

  it('refuses what is not one JSON object, and unknown or mistyped top-level keys', () => {
    assert.match(problems('{"collection": "products",'), /not valid JSON/);
    assert.match(problems('[1]'), /one JSON object/);
    assert.match(problems({ collection: 'products', vector: [1, 2] }), /unexpected key "vector"/);
    assert.match(problems({ query_text: 'x' }), /"collection": must be the name of a collection/);
    for (const limit of [0, -3, 2.5, '10']) assert.match(problems({ collection: 'products', limit }), /"limit": must be a positive whole number/, String(limit));
    assert.match(problems({ collection: 'products', with_payload: 'yes' }), /"with_payload": must be true, false or a list/);
    assert.match(problems({ collection: 'products', query_text: 42 }), /"query_text": must be a string, or null/);
  });

  it('an unknown collection names the known ones', () => {
    assert.match(problems({ collection: 'catalog', query_text: 'x' }), /unknown collection "catalog"; the collections are: products, articles, bare/);
    assert.equal(check({ collection: 'catalog', query_text: 'x' }).unknownCollection, true);
    // without the schema only the shape is checked
    assert.equal(check({ collection: 'catalog', query_text: 'x' }, null).ok, true);
  });

  it('accepts every documented condition kind, a single condition instead of a list, and min_should', () => {
    const filter = {
      must: [
        { key: 'category', match: { any: ['kitchen', 'garden'] } },
        { key: 'price', range: { gte: 10, lt: 99.5 } },
        { key: 'released', range: { gte: '2024-01-01T00:00:00Z' } },
        { key: 'tags[]', match: { except: ['used'] } },
        { key: 'name', match: { text: 'steel' } },
        { should: [{ key: 'brand.country', match: { value: 'DE' } }, { is_null: { key: 'brand' } }] },
        { nested: { key: 'variants', filter: { must: [{ key: 'color', match: { value: 'red' } }, { key: 'size', range: { gt: 3 } }] } } },
      ],
      must_not: { is_empty: { key: 'tags' } },
      min_should: { conditions: [{ has_id: [1, '0b8f3a52-6a1e-4f43-9a6a-7d0a2c3b4e51'] }, { key: 'category', match: { value: 'office' } }], min_count: 1 },
    };
    const result = check({ collection: 'products', query_text: 'kettle', filter });
    assert.equal(result.ok, true, result.problems.join('; '));
    assert.deepEqual(JSON.parse(result.query!).filter, filter);
  });

  it('reports filter syntax errors with the path to them', () => {
    assert.match(problems({ collection: 'products', filter: { and: [] } }), /filter: unexpected key "and"; a filter takes only must, should, must_not and min_should/);
    assert.match(problems({ collection: 'products', filter: { must: [{ key: 'price' }] } }), /filter\.must\[0\]: a condition on "price" needs "match" or "range"/);
    assert.match(problems({ collection: 'products', filter: { must: [{ key: 'price', match: { value: 1, any: [1] } }] } }), /filter\.must\[0\]\.match: a match is exactly one of/);
    assert.match(problems({ collection: 'products', filter: { must: [{ key: 'price', match: { value: 9.99 } }] } }), /filter\.must\[0\]\.match\.value: must be a string, a whole number or a boolean \(for decimals use "range"\)/);
    assert.match(problems({ collection: 'products', filter: { must: [{ key: 'price', match: { any: ['a', 1] } }] } }), /match\.any: must be a list of strings or of whole numbers/);
    assert.match(problems({ collection: 'products', filter: { must: [{ key: 'price', range: {} }] } }), /filter\.must\[0\]\.range: needs at least one of gt, gte, lt, lte/);
    assert.match(problems({ collection: 'products', filter: { must: [{ key: 'price', range: { gt: 'cheap' } }] } }), /range\.gt: must be a number or an RFC 3339 date-time/);
    assert.match(problems({ collection: 'products', filter: { must: [{ key: 'price', range: { above: 3 } }] } }), /range: unexpected key "above"/);
    assert.match(problems({ collection: 'products', filter: { must: [{ key: 'price', match: { value: 1 }, boost: 2 }] } }), /filter\.must\[0\]: unexpected key "boost"/);
    assert.match(problems({ collection: 'products', filter: { must: [{ has_id: [-1] }] } }), /filter\.must\[0\]\.has_id\[0\]: a point id is an unsigned integer or a UUID/);
    assert.match(problems({ collection: 'products', filter: { must: [{ is_empty: 'tags' }] } }), /filter\.must\[0\]\.is_empty/);
    assert.match(problems({ collection: 'products', filter: { must: [{ field: 'price', gt: 3 }] } }), /filter\.must\[0\]: not a condition \(it has field, gt\)/);
    assert.match(problems({ collection: 'products', filter: { must: ['price > 3'] } }), /filter\.must\[0\]: a condition must be an object/);
    assert.match(problems({ collection: 'products', filter: { min_should: { conditions: [] , min_count: 1 } } }), /filter\.min_should\.conditions/);
    assert.match(problems({ collection: 'products', filter: { must: [{ nested: { key: 'variants', filter: 'x' } }] } }), /nested\.filter: a filter must be an object/);
  });

  it('checks every payload key against the schema, nested keys relative to their array, and names the known keys', () => {
    const message = problems({ collection: 'products', query_text: 'x', filter: { must: [{ key: 'colour', match: { value: 'red' } }], should: [{ is_null: { key: 'brand.city' } }] } });
    assert.match(message, /unknown payload keys "colour" \(filter\.must\[0\]\), "brand\.city" \(filter\.should\[0\]\) in collection "products"/);
    assert.match(message, /its payload keys are: brand, brand\.country, category, name, price, released, tags, variants, variants\.color, variants\.size/);
    assert.match(problems({ collection: 'products', filter: { must: [{ nested: { key: 'variants', filter: { must: [{ key: 'weight', range: { gt: 1 } }] } } }] } }), /"variants\.weight"/);
    assert.match(problems({ collection: 'products', with_payload: ['name', 'colour'] }), /unknown payload key "colour" \(with_payload\)/);
    assert.equal(check({ collection: 'products', with_payload: ['name', 'brand.country'] }).ok, true);
    // without the schema, keys are not checked
    assert.equal(check({ collection: 'products', filter: { must: [{ key: 'colour', match: { value: 'red' } }] } }, null).ok, true);
  });

  it('refuses a filter nested past the depth limit without overflowing', () => {
    let filter: Record<string, unknown> = { must: [{ key: 'name', match: { value: 'x' } }] };
    for (let i = 0; i < 100; i++) filter = { must: [filter] };
    assert.match(problems({ collection: 'products', filter }), /nested too deeply/);
  });
});
