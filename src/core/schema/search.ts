/**
 * Schema retrieval for a question: picks the tables (and the columns within them) worth showing the
 * model, without embeddings. Pure, deterministic and cheap enough to run on every question.
 *
 * 1. Text is tokenised (snake_case / camelCase split, lower-cased, stop words dropped) and lightly
 *    stemmed (orders → order, categories → category, shipped → ship, resolved / resolve → resolv).
 * 2. Every question term is expanded: itself, business synonyms (revenue → amount / total / order…),
 *    two-word phrases ("send back" → return), joined word pairs ("wish list" → wishlist), compounds
 *    split into schema words ("pageviews") and stems sharing a long prefix (subscriber ~ subscription).
 * 3. A table scores, for each question term, the best field it matches in — table name (its head noun
 *    above its modifiers) over column name over comment — times an IDF weight over tables, so words
 *    present everywhere (`id`, `created_at`, `name`) count for little. A foreign-key column's words that
 *    merely restate the referenced table (`customer` in `customer_id`) are no evidence of their own.
 * 4. Foreign keys spread evidence: a table gets a share of its best neighbour's score (more when that
 *    neighbour references it); each question term is anchored in the table(s) matching it best,
 *    preferring among equals the one closest to the best table (coherence bonus), and every table on a
 *    shortest join path between anchors of different terms is boosted (bridges such as `order_items`,
 *    or `employees` between `salaries` and `departments`), since the query cannot be written without them.
 */
import type { ColumnInfo, RankedTable, TableInfo } from './types';

export interface SchemaSearchOptions {
  /** Most tables to return. Default 8. */
  limit?: number;
  /** Most columns per table in `relevantColumns`; tables with no more columns than this get all of them. Default 12. */
  maxColumnsPerTable?: number;
}

const DEFAULT_LIMIT = 8;
const DEFAULT_MAX_COLUMNS = 12;

// Field weights: where in a table a term is found.
const W_TABLE_NAME = 3;
/**
 * In a multi-word table name the last word is the head noun (`order_items` holds items, `purchase_orders`
 * holds orders): it keeps most of the weight, the modifiers less, so `orders` beats `order_items` for "orders".
 */
const HEAD_SHARE = 0.7;
const MODIFIER_SHARE = 0.55;
const W_TABLE_COMMENT = 1.2;
const W_SCHEMA_NAME = 1;
const W_COLUMN_NAME = 1.5;
/** A foreign-key column mostly restates the table it points at; FK propagation covers that relation. */
const W_FK_COLUMN_NAME = 0.5;
const W_COLUMN_COMMENT = 0.7;

// Expansion weights.
const W_PREFIX_MATCH = 0.7;
const W_COMPOUND = 0.9;

// Foreign-key propagation.
/**
 * Share of the best neighbour's score a table receives: a table referenced by a matching table (a
 * dimension such as `products` for `reviews`) is usually needed to name things; a table referencing a
 * matching one (`orders` for `customers`) somewhat less often.
 */
const PARENT_SHARE = 0.35;
const CHILD_SHARE = 0.2;
/** A question term is anchored in the tables matching it at least this well relative to its best table… */
const ANCHOR_TERM_FRACTION = 0.9;
const ANCHORS_PER_TERM = 2;
/** …provided their direct score is at least this fraction of the best direct score. */
const ANCHOR_FRACTION = 0.3;
const MAX_ANCHORS = 6;
/** Bonus, as a share of the terms it anchors, for an anchor within this many joins of the best table. */
const COHERENCE_SHARE = 0.3;
const COHERENCE_MAX_EDGES = 2;
/** Longest join path (in FK edges) between two anchors whose intermediate tables get boosted. */
const MAX_PATH_EDGES = 4;
/** Share of the weaker anchor's score given to each table on a shortest path between two anchors. */
const BRIDGE_SHARE = 0.6;
/** Extra decay per edge beyond a direct two-edge bridge. */
const BRIDGE_DECAY = 0.85;

// ---------------------------------------------------------------------------------------------
// Tokenisation and stemming

/** Function words: never evidence, in questions or in schema text. */
const FUNCTION_WORDS = words(
  'a an the and or but if then else of to in on at by for from with without into onto over under about above below ' +
    'between after before during since until per via vs versus than as is are was were be been being am do does did done ' +
    'doing have has had having i me my we us our ours you your he she him her his it its they them their theirs this that ' +
    'these those there here what which who whom whose when where why how all any each every some no not nor only own same ' +
    'so too very can could should would will shall may might must just also s t haven hasn didn don doesn isn wasn aren ' +
    'won weren shouldn couldn wouldn id ids',
);
/**
 * Words that in a question almost never point at a table: requests, aggregates, time frames, ratios.
 * Schema text keeps them (a `rate` or `first_name` column is real); the question simply does not ask for them.
 */
const QUESTION_WORDS = words(
  'select count number get got give show list find tell display let lets want need see know like please many much more most less least few ' +
    'fewer top bottom best worst highest lowest biggest largest smallest greatest longest shortest long longer short ' +
    'average avg mean median sum min max overall breakdown broken down trend compare comparison rank ranking month months ' +
    'year years week weeks day days quarter quarters today yesterday tomorrow now currently current right ago recent ' +
    'recently last first next previous past new old yet still again ever once twice always never everywhere anywhere ' +
    'anything something everything nothing thing things stuff one two three four five six seven eight nine ten rate rates ' +
    'percent percentage share ratio proportion fraction data info information record records row rows table tables out ' +
    'up back go goes going gone went come comes coming take takes taking make makes making put puts use uses used using ' +
    'happen happened look',
);
// "up", "back", "off" still take part in phrases ("sign up", "send back", "time off").

function words(list: string): Set<string> {
  return new Set(list.split(/\s+/).filter(Boolean));
}

function isQuestionStopWord(w: string): boolean {
  return FUNCTION_WORDS.has(w) || QUESTION_WORDS.has(w);
}

const IRREGULAR: Record<string, string> = {
  people: 'person',
  men: 'man',
  women: 'woman',
  children: 'child',
  sold: 'sell',
  bought: 'buy',
  spent: 'spend',
  paid: 'pay',
  sent: 'send',
  left: 'leave',
  quit: 'quit',
  data: 'data',
  criteria: 'criterion',
  indices: 'index',
  analyses: 'analysis',
};

function undouble(w: string): string {
  const n = w.length;
  if (n >= 2 && w[n - 1] === w[n - 2] && /[bcdfgkmnprt]/.test(w[n - 1]!)) return w.slice(0, -1);
  return w;
}

/** Light stemmer: plurals, -ed / -ing, a final silent e. Applied identically to questions and schema text. */
export function stem(word: string): string {
  const irregular = IRREGULAR[word];
  if (irregular !== undefined) return irregular;
  if (word.length <= 3 || /\d/.test(word)) return word;
  let w = word;
  if (w.endsWith('ies') && w.length > 4) w = w.slice(0, -3) + 'y';
  else if (/(?:ss|x|z|ch|sh)es$/.test(w)) w = w.slice(0, -2);
  else if (w.endsWith('s') && !/(?:ss|us|is)$/.test(w)) w = w.slice(0, -1);

  if (w.endsWith('ied') && w.length > 5) w = w.slice(0, -3) + 'y';
  else if (w.endsWith('ing') && w.length - 3 >= 4) w = undouble(w.slice(0, -3));
  else if (w.endsWith('ed') && w.length - 2 >= 4) w = undouble(w.slice(0, -2));

  if (w.endsWith('e') && w.length > 4) w = w.slice(0, -1);
  return w;
}

/** Lower-cased words of a text: splits snake_case, camelCase, punctuation; drops a possessive or n't. */
export function splitWords(text: string): string[] {
  return text
    .replace(/['’](?:s|t|re|ve|ll|d|m)\b/gi, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

/**
 * Stemmed content terms of a text, in order, bare numbers dropped. `question` (the default) drops every
 * stop word; `schema` only function words.
 */
export function tokenize(text: string, kind: 'question' | 'schema' = 'question'): string[] {
  return kind === 'schema' ? [...schemaTokens(text)] : computeTokens(text, isQuestionStopWord);
}

const TOKEN_CACHE_LIMIT = 20_000;
/** Schema texts repeat a lot (`id`, `created_at`, `name`, `status`…): tokenise each once. */
const schemaTokenCache = new Map<string, readonly string[]>();

function schemaTokens(text: string): readonly string[] {
  let tokens = schemaTokenCache.get(text);
  if (tokens === undefined) {
    if (schemaTokenCache.size >= TOKEN_CACHE_LIMIT) schemaTokenCache.clear();
    tokens = computeTokens(text, (w) => FUNCTION_WORDS.has(w));
    schemaTokenCache.set(text, tokens);
  }
  return tokens;
}

function computeTokens(text: string, isStop: (w: string) => boolean): string[] {
  const out: string[] = [];
  for (const w of splitWords(text)) {
    if (isStop(w) || /^\d+$/.test(w)) continue;
    const s = stem(w);
    if (s.length < 2 || isStop(s)) continue;
    out.push(s);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Business vocabulary

type Expansion = readonly [term: string, weight: number];

/** Stemmed term → schema terms it may refer to. Built once from the word lists below. */
const SYNONYMS = new Map<string, Expansion[]>();
/** Stemmed two-word phrase ("send back") → schema terms. */
const PHRASES = new Map<string, Expansion[]>();

function addExpansion(map: Map<string, Expansion[]>, from: string, to: string, weight: number): void {
  if (from === to) return;
  let list = map.get(from);
  if (list === undefined) map.set(from, (list = []));
  const existing = list.findIndex(([t]) => t === to);
  if (existing < 0) list.push([to, weight]);
  else if (list[existing]![1] < weight) list[existing] = [to, weight];
}

function stemAll(words: string): string[] {
  return words.split(/\s+/).filter(Boolean).map((w) => stem(w.toLowerCase()));
}

/** Words that all mean the same thing: each expands to every other. */
function same(weight: number, words: string): void {
  const terms = stemAll(words);
  for (const a of terms) for (const b of terms) addExpansion(SYNONYMS, a, b, weight);
}

/** Each of `from` may refer to each of `to`. */
function means(from: string, to: string, weight: number): void {
  for (const a of stemAll(from)) for (const b of stemAll(to)) addExpansion(SYNONYMS, a, b, weight);
}

/** A two-word phrase (given in several spellings, separated by commas) that refers to `to`. */
function phrase(spellings: string, to: string, weight: number): void {
  for (const spelling of spellings.split(',')) {
    const key = stemAll(spelling).join(' ');
    for (const b of stemAll(to)) addExpansion(PHRASES, key, b, weight);
  }
}

// People
same(0.8, 'customer client buyer shopper consumer purchaser user');
same(0.8, 'employee staff worker personnel colleague');
means('headcount agent rep representative hire', 'employee', 0.75);
means('agent rep representative', 'assigned', 0.6);
means('spender', 'customer', 0.8);
means('spender spend', 'amount total', 0.6);
means('spender spend', 'order', 0.4);
means('person member', 'customer', 0.45);
means('member membership', 'loyalty', 0.5);
same(0.8, 'manager boss supervisor');
means('manage', 'manager', 0.9);
phrase('report to, reports to, reporting to', 'manager', 0.8);
means('hire onboard', 'hired', 0.9);
means('signup register registration', 'created', 0.5);
phrase('sign up, signed up, signs up', 'created customer', 0.5);
means('fire terminate resign leave leaver attrition turnover', 'terminated', 0.7);
means('turnover', 'amount total', 0.3);
// Catalogue
same(0.8, 'product item sku article merchandise goods');
same(0.8, 'supplier vendor distributor manufacturer');
means('manufacturer', 'brand', 0.6);
means('subcategory subcategories', 'category', 0.9);
means('subcategory subcategories', 'parent', 0.5);
same(0.7, 'category categorisation categorization');
same(0.8, 'tag label');
same(0.8, 'wishlist favourite favorite');
phrase('wish list, saved item, saved items', 'wishlist', 0.9);
// Money
means('revenue sale income earnings gmv takings turnover', 'amount total', 0.6);
means('revenue sale income earnings gmv takings', 'order', 0.6);
means('revenue sale income earnings gmv', 'price payment', 0.35);
means('sell buy purchase purchased', 'order', 0.6);
means('sell buy', 'item quantity', 0.4);
means('basket cart checkout', 'order', 0.7);
means('basket cart', 'item', 0.6);
means('sell', 'price', 0.4);
means('value worth', 'amount total price', 0.5);
means('spend spending expense expenditure', 'cost', 0.6);
same(0.7, 'price pricing cost');
means('cheap cheapest expensive pricey', 'price', 0.9);
means('cheap cheapest expensive pricey', 'cost', 0.5);
means('profit margin markup', 'price cost', 0.7);
means('profit margin', 'amount', 0.3);
same(0.8, 'discount markdown rebate');
same(0.8, 'coupon voucher');
phrase('promo code, discount code, coupon code, voucher code', 'coupon', 0.9);
same(0.8, 'promotion promo deal');
phrase('on sale, on promotion, on offer', 'promotion', 0.9);
same(0.8, 'invoice bill billing');
same(0.7, 'payment transaction charge');
means('pay', 'payment', 0.7);
means('pay', 'salary cost', 0.5);
same(0.8, 'refund reimbursement chargeback');
same(0.8, 'tax vat gst');
same(0.8, 'salary wage payroll compensation');
means('earn earning', 'salary', 0.8);
same(0.7, 'currency fx');
means('usd eur gbp dollar euro pound', 'currency', 0.7);
means('usd eur gbp dollar euro pound fx', 'exchange', 0.6);
// Fulfilment & inventory
same(0.8, 'stock inventory');
means('stock inventory', 'quantity', 0.4);
means('low shortage restock replenish', 'reorder', 0.6);
means('low shortage', 'quantity', 0.3);
means('restock replenish', 'purchase', 0.5);
same(0.8, 'warehouse depot storehouse');
phrase('fulfilment centre, fulfillment center, distribution center, distribution centre', 'warehouse', 0.9);
same(0.8, 'shipment ship shipping delivery dispatch');
means('parcel package courier', 'shipment', 0.7);
means('courier', 'carrier', 0.9);
means('arrive arrival deliver delivered', 'delivered', 0.9);
means('arrive arrival', 'shipment', 0.5);
means('late delay delayed overdue', 'due promised expected', 0.5);
means('damage damaged broken write', 'damage', 0.9);
phrase('written off, write off, writes off', 'damage adjustment', 0.7);
phrase('send back, sent back, ship back, bring back, brought back, came back, comes back', 'return', 0.9);
// Support
same(0.8, 'ticket case complaint issue incident');
means('helpdesk', 'support ticket', 0.8);
same(0.8, 'comment reply message note');
means('reply respond response', 'response', 0.9);
means('resolve resolution solve fix close closed', 'resolved', 0.9);
means('satisfaction csat nps', 'satisfaction score', 0.9);
// Feedback
same(0.8, 'review feedback testimonial opinion');
means('say said', 'review comment body', 0.5);
means('star stars score', 'rating', 0.8);
same(0.7, 'rating rated');
// HR
same(0.8, 'department dept division team');
means('vacation holiday pto leave sick', 'time off', 0.7);
phrase('time off, days off', 'time off', 1);
means('office site', 'location', 0.7);
// Marketing & analytics
same(0.8, 'campaign marketing advertising ad');
means('conversion convert', 'converted', 0.9);
same(0.8, 'session visit');
means('visitor traffic', 'session', 0.8);
means('visitor traffic', 'page view referrer source', 0.5);
phrase('come from, comes from, came from', 'source referrer utm', 0.7);
same(0.8, 'pageview hit');
means('mobile desktop tablet phone', 'device', 0.6);
same(0.8, 'subscription subscriber membership recurring renewal');
means('churn churned', 'cancelled subscription', 0.7);
means('mrr arr', 'subscription plan price', 0.8);
// Geography
same(0.7, 'country nation');
same(0.7, 'region province');
means('state', 'region', 0.5);
means('state', 'status', 0.6);
same(0.7, 'city town');
for (const c of (
  'usa america canada mexico brazil argentina chile uk britain england ireland france germany spain portugal italy ' +
  'netherlands belgium switzerland austria sweden norway denmark finland poland czechia greece turkey russia ukraine ' +
  'china japan korea india indonesia australia zealand egypt nigeria kenya israel'
).split(' ')) {
  means(c, 'country', 0.7);
}
for (const c of (
  'london paris berlin madrid rome amsterdam vienna munich hamburg dublin zurich stockholm oslo copenhagen warsaw ' +
  'prague lisbon barcelona milan york chicago boston seattle austin toronto vancouver montreal sydney melbourne tokyo ' +
  'singapore mumbai delhi'
).split(' ')) {
  means(c, 'city', 0.7);
}
// Changes
means('change changed edit edited modify modified', 'audit log update action', 0.6);
means('history', 'audit log', 0.5);

// ---------------------------------------------------------------------------------------------
// Index

interface TermHit {
  /** Best field weight the term has in this table. */
  weight: number;
  /** Column indexes the term occurs in (name or comment), with the field weight there. */
  columns: Map<number, number>;
}

interface TableIndex {
  table: TableInfo;
  terms: Map<string, TermHit>;
  /** Terms that count for document frequency (foreign-key column names excluded). */
  dfTerms: Set<string>;
  /** Tables this one references (its parents) and tables referencing it (its children). */
  parents: number[];
  children: number[];
  neighbours: number[];
  fkColumns: Set<string>;
}

interface SchemaIndex {
  tables: TableIndex[];
  idf: Map<string, number>;
  /** Terms eligible for prefix matching. */
  vocabulary: string[];
}

/**
 * Records that `term` occurs in a table with field weight `weight`, in column `column` if given.
 * `counts`: whether it counts for document frequency; `scoresTable`: whether it is evidence for the table
 * as a whole (a column's own relevance always is).
 */
function addTerm(ti: TableIndex, term: string, weight: number, column: number | undefined, counts: boolean, scoresTable = true): void {
  let hit = ti.terms.get(term);
  if (hit === undefined) ti.terms.set(term, (hit = { weight: 0, columns: new Map() }));
  if (scoresTable && weight > hit.weight) hit.weight = weight;
  if (column !== undefined) hit.columns.set(column, Math.max(hit.columns.get(column) ?? 0, weight));
  if (counts) ti.dfTerms.add(term);
}

function buildIndex(tables: readonly TableInfo[]): SchemaIndex {
  const compounds = new Set<string>();
  const byName = new Map<string, number>();
  tables.forEach((t, i) => {
    byName.set(t.qualifiedName, i);
    if (!byName.has(t.name)) byName.set(t.name, i);
  });

  const indexed: TableIndex[] = tables.map((table) => {
    const fkColumns = new Set<string>();
    for (const fk of table.foreignKeys) for (const c of fk.columns) fkColumns.add(c);
    for (const c of table.columns) if (c.references !== undefined) fkColumns.add(c.name);
    const ti: TableIndex = {
      table,
      terms: new Map(),
      dfTerms: new Set(),
      parents: [],
      children: [],
      neighbours: [],
      fkColumns,
    };

    const nameTerms = schemaTokens(table.name);
    nameTerms.forEach((term, k) => {
      const share = nameTerms.length === 1 ? 1 : k === nameTerms.length - 1 ? HEAD_SHARE : MODIFIER_SHARE;
      addTerm(ti, term, W_TABLE_NAME * share, undefined, true);
    });
    // The whole name as one term too, so "wishlist" finds wishlist_items and "pageview" finds page_views.
    if (nameTerms.length > 1) {
      const joined = nameTerms.join('');
      addTerm(ti, joined, W_TABLE_NAME, undefined, true);
      compounds.add(joined);
    }
    if (!['public', 'dbo', 'main', ''].includes(table.schema)) {
      for (const term of schemaTokens(table.schema)) addTerm(ti, term, W_SCHEMA_NAME, undefined, true);
    }
    if (table.comment) for (const term of schemaTokens(table.comment)) addTerm(ti, term, W_TABLE_COMMENT, undefined, true);
    // Words of a foreign-key column that only restate the table it references (`customer` in
    // `customer_id` → customers) are no evidence for this table: neighbour propagation covers the relation.
    const restated = new Map<string, Set<string>>();
    const noteRef = (column: string, refTable: string): void => {
      let set = restated.get(column);
      if (set === undefined) restated.set(column, (set = new Set()));
      for (const term of schemaTokens(refTable.slice(refTable.lastIndexOf('.') + 1))) set.add(term);
    };
    for (const fk of table.foreignKeys) for (const c of fk.columns) noteRef(c, fk.refTable);
    for (const c of table.columns) if (c.references !== undefined) noteRef(c.name, c.references.table);
    table.columns.forEach((col, ci) => {
      const isFk = fkColumns.has(col.name);
      const w = isFk ? W_FK_COLUMN_NAME : W_COLUMN_NAME;
      const restatedTerms = restated.get(col.name);
      for (const term of schemaTokens(col.name)) addTerm(ti, term, w, ci, !isFk, restatedTerms?.has(term) !== true);
      if (col.comment) for (const term of schemaTokens(col.comment)) addTerm(ti, term, W_COLUMN_COMMENT, ci, true);
    });
    return ti;
  });

  // Undirected FK graph (self-references ignored).
  indexed.forEach((ti, i) => {
    const refs = new Set<string>();
    for (const fk of ti.table.foreignKeys) refs.add(fk.refTable);
    for (const c of ti.table.columns) if (c.references !== undefined) refs.add(c.references.table);
    for (const ref of refs) {
      const j = byName.get(ref);
      if (j === undefined || j === i) continue;
      const other = indexed[j]!;
      if (!ti.parents.includes(j)) ti.parents.push(j);
      if (!other.children.includes(i)) other.children.push(i);
      if (!ti.neighbours.includes(j)) ti.neighbours.push(j);
      if (!other.neighbours.includes(i)) other.neighbours.push(i);
    }
  });

  const df = new Map<string, number>();
  const vocabulary = new Set<string>();
  for (const ti of indexed) {
    for (const term of ti.dfTerms) df.set(term, (df.get(term) ?? 0) + 1);
    for (const term of ti.terms.keys()) vocabulary.add(term);
  }
  const n = indexed.length;
  const idf = new Map<string, number>();
  for (const term of vocabulary) {
    // Terms seen only in FK column names count as if present in one table.
    idf.set(term, Math.log((n + 1) / Math.max(1, df.get(term) ?? 1)));
  }
  // Joined table names take part in exact matches only, never in prefix matches.
  return { tables: indexed, idf, vocabulary: [...vocabulary].filter((t) => !compounds.has(t)).sort() };
}

// ---------------------------------------------------------------------------------------------
// Question analysis

interface QueryTerm {
  text: string;
  expansions: Map<string, number>;
}

function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Two stems that differ only in their ending: subscriber ~ subscription, delivery ~ deliver. */
function nearStem(a: string, b: string): boolean {
  // Both at least six letters: "count" must not find "country", nor "order" "orderly".
  if (Math.min(a.length, b.length) < 6) return false;
  const p = commonPrefix(a, b);
  return p >= 5 && p >= 0.7 * Math.min(a.length, b.length);
}

function expand(term: string, vocab: SchemaIndex): Map<string, number> {
  const out = new Map<string, number>();
  const put = (t: string, w: number): void => {
    if (w > (out.get(t) ?? 0)) out.set(t, w);
  };
  put(term, 1);
  for (const [t, w] of SYNONYMS.get(term) ?? []) put(t, w);
  for (const v of vocab.vocabulary) if (v !== term && nearStem(term, v)) put(v, W_PREFIX_MATCH);
  return out;
}

function analyseQuestion(question: string, index: SchemaIndex): QueryTerm[] {
  const raw = splitWords(question);
  const stems = raw.map((w) => stem(w));
  const known = (t: string): boolean => index.idf.has(t) || SYNONYMS.has(t);
  const terms = new Map<string, QueryTerm>();
  const add = (text: string, extra?: readonly Expansion[]): void => {
    let qt = terms.get(text);
    if (qt === undefined) terms.set(text, (qt = { text, expansions: expand(text, index) }));
    for (const [t, w] of extra ?? []) if (w > (qt.expansions.get(t) ?? 0)) qt.expansions.set(t, w);
  };

  for (let i = 0; i < raw.length; i++) {
    const word = raw[i]!;
    const s = stems[i]!;
    // Phrases and joined pairs use the words around stop words too ("time off", "wish list").
    if (i + 1 < raw.length) {
      const pair = `${s} ${stems[i + 1]!}`;
      const phraseTargets = PHRASES.get(pair);
      if (phraseTargets !== undefined) add(pair, phraseTargets);
      const joined = stem(word + raw[i + 1]!);
      if (index.idf.has(joined)) add(joined);
    }
    if (isQuestionStopWord(word) || isQuestionStopWord(s) || /^\d+$/.test(word) || s.length < 2) continue;
    if (!known(s) && s.length >= 6) {
      // An unknown compound made of two schema words: "pageviews", "timeoff".
      let split = false;
      for (let k = 3; k <= word.length - 3 && !split; k++) {
        const left = stem(word.slice(0, k));
        const right = stem(word.slice(k));
        if (index.idf.has(left) && index.idf.has(right)) {
          add(left, [[right, W_COMPOUND]]);
          add(right, [[left, W_COMPOUND]]);
          split = true;
        }
      }
      if (split) continue;
    }
    add(s);
  }
  return [...terms.values()];
}

// ---------------------------------------------------------------------------------------------
// Ranking

interface Match {
  score: number;
  /** Contribution of each question term (same order as the query). */
  termScores: number[];
  /** Per column index, how much question evidence it carries. */
  columnScores: Map<number, number>;
}

function scoreTable(ti: TableIndex, query: readonly QueryTerm[], idf: Map<string, number>): Match {
  let score = 0;
  const termScores: number[] = [];
  const columnScores = new Map<number, number>();
  for (const qt of query) {
    let best = 0;
    for (const [term, ew] of qt.expansions) {
      const hit = ti.terms.get(term);
      if (hit === undefined) continue;
      const termIdf = idf.get(term) ?? 0;
      const s = hit.weight * ew * termIdf;
      if (s > best) best = s;
      for (const [ci, fw] of hit.columns) {
        const cs = fw * ew * termIdf;
        columnScores.set(ci, Math.max(columnScores.get(ci) ?? 0, cs));
      }
    }
    score += best;
    termScores.push(best);
  }
  return { score, termScores, columnScores };
}

/** Breadth-first distances from `start` in the FK graph, up to `maxDepth` edges (-1 = unreachable). */
function distances(tables: readonly TableIndex[], start: number, maxDepth: number): Int32Array {
  const dist = new Int32Array(tables.length).fill(-1);
  dist[start] = 0;
  let frontier = [start];
  for (let d = 1; d <= maxDepth && frontier.length > 0; d++) {
    const next: number[] = [];
    for (const u of frontier) {
      for (const v of tables[u]!.neighbours) {
        if (dist[v] !== -1) continue;
        dist[v] = d;
        next.push(v);
      }
    }
    frontier = next;
  }
  return dist;
}

function propagate(tables: readonly TableIndex[], matches: readonly Match[], termCount: number): number[] {
  const n = tables.length;
  const direct = matches.map((m) => m.score);
  const final = direct.slice();
  const maxDirect = maxOf(direct);
  if (maxDirect <= 0) return final;

  // Neighbour share: the best of what the table's children and parents offer.
  for (let i = 0; i < n; i++) {
    let best = 0;
    // i is a parent of its children: a matching child makes i a dimension worth joining.
    for (const j of tables[i]!.children) best = Math.max(best, PARENT_SHARE * direct[j]!);
    for (const j of tables[i]!.parents) best = Math.max(best, CHILD_SHARE * direct[j]!);
    final[i]! += best;
  }

  // Bridges. Each question term is anchored in the table(s) matching it best — among equally good
  // ones, those closest to the best table overall — and tables on a shortest join path between anchors
  // of different terms are needed to relate the two.
  let primary = 0;
  for (let i = 1; i < n; i++) if (direct[i]! > direct[primary]!) primary = i;
  const fromPrimary = distances(tables, primary, n);
  const closeness = (i: number): number => (fromPrimary[i]! < 0 ? n + 1 : fromPrimary[i]!);
  const anchorTerms = new Map<number, Set<number>>();
  for (let k = 0; k < termCount; k++) {
    let best = 0;
    for (const m of matches) best = Math.max(best, m.termScores[k]!);
    if (best <= 0) continue;
    const candidates = matches
      .map((m, i) => [m.termScores[k]!, i] as const)
      .filter(([s, i]) => s >= ANCHOR_TERM_FRACTION * best && direct[i]! >= ANCHOR_FRACTION * maxDirect)
      .sort((a, b) => closeness(a[1]) - closeness(b[1]) || b[0] - a[0] || direct[b[1]]! - direct[a[1]]! || a[1] - b[1])
      .slice(0, ANCHORS_PER_TERM);
    for (const [, i] of candidates) {
      let set = anchorTerms.get(i);
      if (set === undefined) anchorTerms.set(i, (set = new Set()));
      set.add(k);
    }
  }
  const anchors = [...anchorTerms.keys()].sort((a, b) => direct[b]! - direct[a]! || a - b).slice(0, MAX_ANCHORS);
  if (anchors.length < 2) return final;
  // Coherence: of several tables matching a term about equally, the one joined to the best table is the likely reading.
  for (const a of anchors) {
    if (a === primary || closeness(a) > COHERENCE_MAX_EDGES) continue;
    let own = 0;
    for (const k of anchorTerms.get(a)!) own += matches[a]!.termScores[k]!;
    final[a]! += COHERENCE_SHARE * own;
  }
  const dist = new Map(anchors.map((a) => [a, distances(tables, a, MAX_PATH_EDGES)] as const));
  const bridge = new Float64Array(n);
  const hasOwnTerm = (a: number, b: number): boolean => [...anchorTerms.get(a)!].some((k) => !anchorTerms.get(b)!.has(k));
  for (let x = 0; x < anchors.length; x++) {
    for (let y = x + 1; y < anchors.length; y++) {
      const a = anchors[x]!;
      const b = anchors[y]!;
      if (!hasOwnTerm(a, b) || !hasOwnTerm(b, a)) continue;
      const da = dist.get(a)!;
      const db = dist.get(b)!;
      const len = da[b]!;
      if (len < 2) continue; // unreachable, or directly joined: nothing in between
      const boost = BRIDGE_SHARE * Math.min(direct[a]!, direct[b]!) * BRIDGE_DECAY ** (len - 2);
      for (let m = 0; m < n; m++) {
        if (m === a || m === b || da[m]! < 0 || db[m]! < 0) continue;
        if (da[m]! + db[m]! === len && boost > bridge[m]!) bridge[m] = boost;
      }
    }
  }
  for (let i = 0; i < n; i++) final[i]! += bridge[i]!;
  return final;
}

function pickColumns(ti: TableIndex, columnScores: Map<number, number>, max: number): ColumnInfo[] {
  const cols = ti.table.columns;
  const pk = new Set(ti.table.primaryKey);
  const keys: number[] = [];
  const matching: number[] = [];
  const others: number[] = [];
  cols.forEach((c, i) => {
    if (c.isPrimaryKey || pk.has(c.name) || ti.fkColumns.has(c.name)) keys.push(i);
    else if ((columnScores.get(i) ?? 0) > 0) matching.push(i);
    else others.push(i);
  });
  // Primary key before foreign keys, each in table order.
  keys.sort((a, b) => Number(!cols[a]!.isPrimaryKey && !pk.has(cols[a]!.name)) - Number(!cols[b]!.isPrimaryKey && !pk.has(cols[b]!.name)) || a - b);
  matching.sort((a, b) => columnScores.get(b)! - columnScores.get(a)! || a - b);
  const order = [...keys, ...matching, ...others];
  const take = cols.length <= max ? order.length : Math.max(0, max);
  return order.slice(0, take).map((i) => cols[i]!);
}

/** Ranks the tables of a schema for a question; see the module comment for how. */
export function searchSchema(tables: readonly TableInfo[], question: string, options: SchemaSearchOptions = {}): RankedTable[] {
  const limit = Math.max(0, Math.floor(options.limit ?? DEFAULT_LIMIT));
  const maxColumns = Math.max(1, Math.floor(options.maxColumnsPerTable ?? DEFAULT_MAX_COLUMNS));
  if (limit === 0 || tables.length === 0) return [];

  const index = buildIndex(tables);
  const query = analyseQuestion(question, index);
  const matches = index.tables.map((ti) => scoreTable(ti, query, index.idf));
  const direct = matches.map((m) => m.score);
  const final = propagate(index.tables, matches, query.length);
  const best = maxOf(final);

  const order = index.tables.map((_, i) => i);
  if (best > 0) {
    const ranked = order
      .filter((i) => final[i]! > 0)
      .sort((a, b) => final[b]! - final[a]! || direct[b]! - direct[a]! || compareNames(index.tables, a, b))
      .slice(0, limit);
    return ranked.map((i) => ({
      table: index.tables[i]!.table,
      score: final[i]! / best,
      relevantColumns: pickColumns(index.tables[i]!, matches[i]!.columnScores, maxColumns),
    }));
  }

  // Nothing matched: show the most connected tables so the model still sees the core of the schema.
  const ranked = order
    .sort((a, b) => index.tables[b]!.neighbours.length - index.tables[a]!.neighbours.length || compareNames(index.tables, a, b))
    .slice(0, limit);
  return ranked.map((i) => ({
    table: index.tables[i]!.table,
    score: 0,
    relevantColumns: pickColumns(index.tables[i]!, new Map(), maxColumns),
  }));
}

function maxOf(values: readonly number[]): number {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  return max;
}

function compareNames(tables: readonly TableIndex[], a: number, b: number): number {
  const x = tables[a]!.table.qualifiedName;
  const y = tables[b]!.table.qualifiedName;
  return x < y ? -1 : x > y ? 1 : 0;
}
