/**
 * Static read-only validation of LLM-generated PostgreSQL.
 *
 * The SQL is parsed with the real PostgreSQL grammar (libpg-query, compiled to
 * WASM) and the raw parse tree is checked against allowlists: only a few
 * statement kinds, only known syntax-node types, and only pure built-in
 * functions. `BEGIN READ ONLY` on its own is not enough: functions such as
 * pg_terminate_backend, pg_read_file, set_config, lo_from_bytea or dblink run
 * happily inside a read-only transaction.
 *
 * A *raw* parse tree names things; it does not say what they resolve to. So
 * every name is checked against the database's own catalog (./postgres-catalog):
 * a function, operator, cast or type the owner (or an extension) defined and
 * that the statement may reach is refused, and relations must be ones the
 * connection may read (an allowlist). Schema-qualified calls outside
 * pg_catalog are always refused.
 */
import type { FuncCall, ParseResult, RangeVar, RawStmt } from 'libpg-query';
import type { DatabaseCatalog, OwnerObject } from './postgres-catalog';

export interface SqlValidation {
  ok: boolean;
  /** Human-readable reasons, each specific enough to feed back to an LLM for correction (e.g. `function pg_terminate_backend() is not allowed: it has side effects or server access`). Empty when ok. */
  problems: string[];
  /** The normalised single statement (trimmed, trailing semicolons removed) when parsing succeeded. */
  statement?: string;
}

// ---------------------------------------------------------------------------
// Parser: loaded lazily, once.

type PgParser = typeof import('libpg-query');

let parserPromise: Promise<PgParser> | undefined;

function loadParser(): Promise<PgParser> {
  if (!parserPromise) {
    parserPromise = import('libpg-query')
      .then(async (mod) => {
        await mod.loadModule();
        return mod;
      })
      .catch((err: unknown) => {
        parserPromise = undefined; // allow a later retry
        throw new Error(`could not load the PostgreSQL parser (libpg-query): ${errorMessage(err)}`);
      });
  }
  return parserPromise;
}

// ---------------------------------------------------------------------------
// Allowlists.

/** Pure, side-effect-free built-in functions (names as the parser reports them: unquoted identifiers are lower-cased). */
const ALLOWED_FUNCTIONS: ReadonlySet<string> = new Set([
  // aggregates
  'count', 'sum', 'avg', 'min', 'max', 'string_agg', 'array_agg', 'json_agg', 'jsonb_agg',
  'json_agg_strict', 'jsonb_agg_strict', 'json_object_agg', 'jsonb_object_agg', 'bool_and', 'bool_or',
  'every', 'stddev', 'stddev_pop', 'stddev_samp', 'variance', 'var_pop', 'var_samp', 'corr',
  'covar_pop', 'covar_samp', 'regr_avgx', 'regr_avgy', 'regr_count', 'regr_intercept', 'regr_r2',
  'regr_slope', 'regr_sxx', 'regr_sxy', 'regr_syy', 'percentile_cont', 'percentile_disc', 'mode',
  'bit_and', 'bit_or', 'bit_xor', 'any_value', 'range_agg', 'range_intersect_agg', 'xmlagg',
  // window functions
  'row_number', 'rank', 'dense_rank', 'percent_rank', 'cume_dist', 'ntile', 'lag', 'lead',
  'first_value', 'last_value', 'nth_value',
  // math
  'abs', 'ceil', 'ceiling', 'floor', 'round', 'trunc', 'sign', 'sqrt', 'cbrt', 'power', 'pow', 'exp',
  'ln', 'log', 'log10', 'mod', 'div', 'pi', 'width_bucket', 'degrees', 'radians', 'gcd', 'lcm',
  'factorial', 'scale', 'min_scale', 'trim_scale', 'random', 'erf', 'erfc',
  'sin', 'cos', 'tan', 'cot', 'asin', 'acos', 'atan', 'atan2', 'sind', 'cosd', 'tand', 'cotd',
  'asind', 'acosd', 'atand', 'atan2d', 'sinh', 'cosh', 'tanh', 'asinh', 'acosh', 'atanh',
  // string
  'length', 'char_length', 'character_length', 'octet_length', 'bit_length', 'lower', 'upper',
  'initcap', 'casefold', 'trim', 'btrim', 'ltrim', 'rtrim', 'substr', 'substring', 'overlay',
  'replace', 'concat', 'concat_ws', 'left', 'right', 'lpad', 'rpad', 'position', 'strpos',
  'split_part', 'starts_with', 'format', 'regexp_replace', 'regexp_match', 'regexp_matches',
  'regexp_split_to_array', 'regexp_split_to_table', 'regexp_count', 'regexp_instr', 'regexp_like',
  'regexp_substr', 'similar_to_escape', 'reverse', 'repeat', 'translate', 'md5', 'sha224', 'sha256',
  'sha384', 'sha512', 'encode', 'decode', 'to_hex', 'to_bin', 'to_oct', 'ascii', 'chr',
  'quote_ident', 'quote_literal', 'quote_nullable', 'string_to_array', 'string_to_table',
  'array_to_string', 'normalize', 'is_normalized', 'unistr', 'parse_ident',
  // date / time
  'now', 'date_trunc', 'date_part', 'extract', 'age', 'to_char', 'to_date', 'to_timestamp',
  'to_number', 'make_date', 'make_time', 'make_timestamp', 'make_timestamptz', 'make_interval',
  'justify_days', 'justify_hours', 'justify_interval', 'clock_timestamp', 'statement_timestamp',
  'transaction_timestamp', 'timeofday', 'timezone', 'date_bin', 'isfinite', 'date_add',
  'date_subtract', 'overlaps',
  // json / jsonb
  'json_build_object', 'jsonb_build_object', 'json_build_array', 'jsonb_build_array', 'json_object',
  'jsonb_object', 'to_json', 'to_jsonb', 'row_to_json', 'array_to_json', 'json_extract_path',
  'json_extract_path_text', 'jsonb_extract_path', 'jsonb_extract_path_text', 'jsonb_array_elements',
  'jsonb_array_elements_text', 'json_array_elements', 'json_array_elements_text', 'jsonb_each',
  'jsonb_each_text', 'json_each', 'json_each_text', 'jsonb_object_keys', 'json_object_keys',
  'jsonb_array_length', 'json_array_length', 'jsonb_typeof', 'json_typeof', 'jsonb_pretty',
  'jsonb_strip_nulls', 'json_strip_nulls', 'jsonb_set', 'jsonb_set_lax', 'jsonb_insert',
  'jsonb_path_query', 'jsonb_path_query_array', 'jsonb_path_query_first', 'jsonb_path_exists',
  'jsonb_path_match', 'jsonb_path_query_tz', 'jsonb_path_query_array_tz', 'jsonb_path_query_first_tz',
  'jsonb_path_exists_tz', 'jsonb_path_match_tz', 'json_to_record', 'jsonb_to_record',
  'json_to_recordset', 'jsonb_to_recordset', 'json_populate_record', 'jsonb_populate_record',
  'json_populate_recordset', 'jsonb_populate_recordset',
  // arrays
  'array_length', 'cardinality', 'unnest', 'array_position', 'array_positions', 'array_remove',
  'array_replace', 'array_append', 'array_prepend', 'array_cat', 'array_upper', 'array_lower',
  'array_dims', 'array_ndims', 'array_fill', 'trim_array', 'array_reverse', 'array_sort',
  // ranges
  'int4range', 'int8range', 'numrange', 'tsrange', 'tstzrange', 'daterange', 'isempty',
  'lower_inc', 'upper_inc', 'lower_inf', 'upper_inf', 'range_merge',
  // set-returning helpers
  'generate_series', 'generate_subscripts',
  // full-text search (ts_stat / ts_rewrite are excluded: they can run SQL given as text)
  'to_tsvector', 'to_tsquery', 'plainto_tsquery', 'phraseto_tsquery', 'websearch_to_tsquery',
  'ts_rank', 'ts_rank_cd', 'ts_headline', 'setweight', 'strip', 'numnode', 'querytree',
  'tsvector_to_array', 'array_to_tsvector',
  // xml (pure; the *_to_xml family is excluded: it runs queries)
  'xpath', 'xpath_exists', 'xmlexists', 'xml_is_well_formed', 'xml_is_well_formed_document',
  'xml_is_well_formed_content',
  // null handling, type helpers and harmless session / catalog information
  'num_nulls', 'num_nonnulls', 'date', 'text', 'numeric', 'int2', 'int4', 'int8', 'float4', 'float8',
  'bool', 'pg_typeof', 'format_type', 'pg_collation_for', 'pg_size_pretty', 'pg_size_bytes',
  'to_regclass', 'to_regtype', 'col_description', 'obj_description', 'current_database',
  'current_schema', 'system_user',
]);

/** Not on the allowlist either way; listed only to give a sharper reason for well-known dangerous calls. */
const DANGEROUS_FUNCTION_REASONS: Readonly<Record<string, string>> = {
  set_config: 'it changes server settings',
  current_setting: 'it reads server settings',
  nextval: 'it advances a sequence',
  setval: 'it changes a sequence',
  currval: 'it reads sequence state',
  lastval: 'it reads sequence state',
  setseed: 'it changes session state',
  txid_current: 'it assigns a transaction id (a write)',
  pg_current_xact_id: 'it assigns a transaction id (a write)',
  query_to_xml: 'it executes SQL passed as text',
  query_to_xml_and_xmlschema: 'it executes SQL passed as text',
  cursor_to_xml: 'it reads from a cursor',
  table_to_xml: 'it dumps whole tables',
  schema_to_xml: 'it dumps whole schemas',
  database_to_xml: 'it dumps the whole database',
  ts_stat: 'it executes SQL passed as text',
  ts_rewrite: 'it can execute SQL passed as text',
};
const DANGEROUS_PREFIX = /^(pg_|lo_|dblink)/;

/** Settings SHOW may read: none of them names a path, a file or another session's state. */
const SHOWABLE_SETTINGS: ReadonlySet<string> = new Set([
  'server_version', 'server_version_num', 'server_encoding', 'client_encoding', 'datestyle', 'intervalstyle',
  'timezone', 'lc_monetary', 'lc_numeric', 'lc_time', 'standard_conforming_strings', 'integer_datetimes',
  'max_identifier_length', 'transaction_isolation', 'transaction_read_only', 'statement_timeout', 'search_path',
]);

/** TABLESAMPLE methods built into PostgreSQL (tsm_system_rows and friends are extensions). */
const BUILT_IN_SAMPLE_METHODS: ReadonlySet<string> = new Set(['bernoulli', 'system']);

/**
 * Raw-parse-tree node types that may appear inside an allowed query. Anything
 * else (statements, DEFAULT, CURRENT OF, MERGE-only nodes, …) is refused.
 */
const ALLOWED_NODE_TYPES: ReadonlySet<string> = new Set([
  // values and lists
  'Integer', 'Float', 'Boolean', 'String', 'BitString', 'List', 'A_Const', 'ParamRef',
  // query structure
  'SelectStmt', 'ResTarget', 'Alias', 'RangeVar', 'RangeSubselect', 'RangeFunction',
  'RangeTableFunc', 'RangeTableFuncCol', 'RangeTableSample', 'JoinExpr', 'ColumnDef', 'WithClause',
  'CommonTableExpr', 'CTESearchClause', 'CTECycleClause', 'SortBy', 'WindowDef', 'GroupingSet',
  // expressions
  'ColumnRef', 'A_Star', 'A_Expr', 'A_Indices', 'A_Indirection', 'A_ArrayExpr', 'TypeCast',
  'TypeName', 'CollateClause', 'FuncCall', 'NamedArgExpr', 'BoolExpr', 'SubLink', 'CaseExpr',
  'CaseWhen', 'CoalesceExpr', 'MinMaxExpr', 'SQLValueFunction', 'RowExpr', 'NullTest',
  'BooleanTest', 'GroupingFunc', 'XmlExpr', 'XmlSerialize',
  // SQL/JSON
  'JsonFormat', 'JsonReturning', 'JsonValueExpr', 'JsonBehavior', 'JsonOutput', 'JsonArgument',
  'JsonFuncExpr', 'JsonTablePathSpec', 'JsonTable', 'JsonTableColumn', 'JsonKeyValue',
  'JsonParseExpr', 'JsonScalarExpr', 'JsonSerializeExpr', 'JsonObjectConstructor',
  'JsonArrayConstructor', 'JsonArrayQueryConstructor', 'JsonAggConstructor', 'JsonObjectAgg',
  'JsonArrayAgg', 'JsonIsPredicate',
  // handled specially below (they add a problem of their own)
  'LockingClause', 'IntoClause',
]);

/** SQL names for statement node types, for readable messages. */
const STATEMENT_NAMES: Readonly<Record<string, string>> = {
  InsertStmt: 'INSERT', UpdateStmt: 'UPDATE', DeleteStmt: 'DELETE', MergeStmt: 'MERGE',
  SelectStmt: 'SELECT', CopyStmt: 'COPY', VariableSetStmt: 'SET/RESET', VariableShowStmt: 'SHOW',
  TransactionStmt: 'transaction control (BEGIN/COMMIT/ROLLBACK/SAVEPOINT)', DoStmt: 'DO',
  CallStmt: 'CALL', CreateStmt: 'CREATE TABLE', CreateTableAsStmt: 'CREATE TABLE AS',
  DropStmt: 'DROP', TruncateStmt: 'TRUNCATE', GrantStmt: 'GRANT/REVOKE', GrantRoleStmt: 'GRANT/REVOKE role',
  LockStmt: 'LOCK', VacuumStmt: 'VACUUM/ANALYZE', IndexStmt: 'CREATE INDEX', ViewStmt: 'CREATE VIEW',
  PrepareStmt: 'PREPARE', ExecuteStmt: 'EXECUTE', DeallocateStmt: 'DEALLOCATE',
  DeclareCursorStmt: 'DECLARE CURSOR', FetchStmt: 'FETCH/MOVE', ClosePortalStmt: 'CLOSE',
  ListenStmt: 'LISTEN', UnlistenStmt: 'UNLISTEN', NotifyStmt: 'NOTIFY', DiscardStmt: 'DISCARD',
  LoadStmt: 'LOAD', CheckPointStmt: 'CHECKPOINT', ExplainStmt: 'EXPLAIN', AlterSystemStmt: 'ALTER SYSTEM',
  CreateFunctionStmt: 'CREATE FUNCTION/PROCEDURE', RefreshMatViewStmt: 'REFRESH MATERIALIZED VIEW',
  ClusterStmt: 'CLUSTER', ReindexStmt: 'REINDEX', CommentStmt: 'COMMENT', CreateSchemaStmt: 'CREATE SCHEMA',
  CreateExtensionStmt: 'CREATE EXTENSION', RuleStmt: 'CREATE RULE', CreateTrigStmt: 'CREATE TRIGGER',
  ConstraintsSetStmt: 'SET CONSTRAINTS',
};

const ALLOWED_KINDS = 'only a single SELECT (including VALUES, UNION/INTERSECT/EXCEPT and WITH … SELECT), EXPLAIN of such a SELECT, or SHOW is allowed';

// ---------------------------------------------------------------------------
// Public API.

/**
 * Check that `sql` is exactly one read-only statement that cannot cause side
 * effects. Never throws for bad SQL (bad SQL is reported in `problems`); only
 * rejects if the parser itself cannot be loaded.
 */
export async function validateReadOnlySql(sql: string, catalog: DatabaseCatalog): Promise<SqlValidation> {
  if (sql.trim() === '') {
    return { ok: false, problems: ['the query is empty: write one SELECT statement'] };
  }
  const pg = await loadParser();

  let tree: ParseResult;
  try {
    tree = pg.parseSync(sql);
  } catch (err: unknown) {
    return { ok: false, problems: [describeParseError(pg, err, sql)] };
  }

  const stmts: RawStmt[] = tree.stmts ?? [];
  if (stmts.length === 0) {
    return { ok: false, problems: ['the query contains no SQL statement (only comments or semicolons): write one SELECT statement'] };
  }

  const problems = new ProblemList();
  const check: Check = { problems, catalog, pending: [], typesInPlay: new Set() };
  if (stmts.length > 1) {
    problems.add(`expected exactly one SQL statement but found ${stmts.length}: send a single SELECT statement with no other statements`);
  }
  for (const raw of stmts) {
    checkTopLevel(raw.stmt, check);
  }
  reportOwnerObjectsInPlay(check);

  const result: SqlValidation = { ok: problems.items.length === 0, problems: problems.items };
  if (stmts.length === 1) {
    result.statement = extractStatement(pg, sql, stmts[0]);
  }
  return result;
}

// ---------------------------------------------------------------------------
// Statement-level checks.

class ProblemList {
  readonly items: string[] = [];
  private readonly seen = new Set<string>();
  add(message: string): void {
    if (!this.seen.has(message)) {
      this.seen.add(message);
      this.items.push(message);
    }
  }
}

/** What one validation carries through the tree: the problems found, and the database's catalog. */
interface Check {
  problems: ProblemList;
  catalog: DatabaseCatalog;
  /**
   * The owner's objects a name in the statement may resolve to. One whose arguments are all built-in types competes
   * with the built-in for any call; one that takes an owner's type only when a value of that type is involved —
   * which is known once the whole statement is walked (`typesInPlay`).
   */
  pending: Array<{ owners: readonly OwnerObject[]; describe: (owners: string) => string }>;
  /** The owner's types the statement involves: of the relations it reads and the types it names. */
  typesInPlay: Set<string>;
}

function refuseIfReachable(check: Check, owners: readonly OwnerObject[], describe: (owners: string) => string): void {
  if (owners.length > 0) check.pending.push({ owners, describe });
}

function reportOwnerObjectsInPlay(check: Check): void {
  const reachable = (owners: readonly OwnerObject[]): OwnerObject[] =>
    owners.filter((o) => o.ownerTypes.length === 0 || o.ownerTypes.some((t) => check.typesInPlay.has(t)));
  for (const { owners, describe } of check.pending) {
    const found = reachable(owners);
    if (found.length > 0) check.problems.add(describe(listed(found)));
  }
  const casts = reachable(check.catalog.ownerImplicitCasts());
  if (casts.length > 0) {
    check.problems.add(`the query is not allowed: it involves values that this database converts implicitly with its own functions (${listed(casts)}); leave those columns out or convert them with built-in functions`);
  }
}

/** The names of common table expressions in scope at a node (a FROM item by such a name reads the CTE). */
type CteScope = ReadonlySet<string>;
const NO_CTES: CteScope = new Set();

function checkTopLevel(stmt: unknown, check: Check): void {
  const { problems } = check;
  const wrapped = asWrappedNode(stmt);
  if (!wrapped) {
    problems.add(`unrecognised statement: ${ALLOWED_KINDS}`);
    return;
  }
  const [type, body] = wrapped;
  switch (type) {
    case 'SelectStmt':
      walk(stmt, check, false);
      return;
    case 'VariableShowStmt':
      checkShow(body, problems);
      return;
    case 'ExplainStmt':
      checkExplain(body, check);
      return;
    default:
      problems.add(`${statementName(type)} statements are not allowed: ${ALLOWED_KINDS}`);
      // Still report dangerous functions etc. inside, but not every unusual node of a statement we refuse anyway.
      walk(body, check, true);
  }
}

function checkShow(body: Record<string, unknown>, problems: ProblemList): void {
  const name = typeof body.name === 'string' ? body.name.toLowerCase() : '';
  if (name === 'all') {
    problems.add('SHOW ALL is not allowed: it discloses every server setting; SHOW one of: ' + [...SHOWABLE_SETTINGS].join(', '));
  } else if (!SHOWABLE_SETTINGS.has(name)) {
    problems.add(`SHOW ${name} is not allowed: only these settings may be shown: ${[...SHOWABLE_SETTINGS].join(', ')}`);
  }
}

function checkExplain(body: Record<string, unknown>, check: Check): void {
  const { problems } = check;
  const options = Array.isArray(body.options) ? body.options : [];
  for (const option of options) {
    const def = asWrappedNode(option);
    if (!def || def[0] !== 'DefElem') continue;
    const name = typeof def[1].defname === 'string' ? def[1].defname.toLowerCase() : '';
    if (name === 'analyze' && !isFalseOption(def[1].arg)) {
      problems.add('EXPLAIN ANALYZE is not allowed: it actually executes the statement; use plain EXPLAIN');
    }
  }
  const inner = asWrappedNode(body.query);
  if (!inner || inner[0] !== 'SelectStmt') {
    const what = inner ? statementName(inner[0]) : 'an unrecognised statement';
    problems.add(`EXPLAIN is only allowed for SELECT queries, not for ${what}`);
    if (inner) walk(inner[1], check, true);
    return;
  }
  walk(body.query, check, false);
}

/** `EXPLAIN (ANALYZE false)` / `off` / `0` is harmless; anything else counts as ANALYZE. */
function isFalseOption(arg: unknown): boolean {
  const wrapped = asWrappedNode(arg);
  if (!wrapped) return false;
  const [type, value] = wrapped;
  if (type === 'String' && typeof value.sval === 'string') {
    return ['false', 'off', 'no', '0'].includes(value.sval.toLowerCase());
  }
  if (type === 'Integer') return value.ival === undefined || value.ival === 0; // ival 0 is omitted in the JSON
  if (type === 'Boolean') return value.boolval !== true;
  return false;
}

// ---------------------------------------------------------------------------
// The tree walk.

/**
 * Visit every node of the (JSON) parse tree iteratively, in document order.
 * Wrapped nodes look like `{ "FuncCall": { … } }`; some fields hold bare node
 * bodies (e.g. SelectStmt.larg/rarg, withClause, intoClause, over), which are
 * walked like any other object. Field names are camelCase / snake_case, node
 * type keys start with an upper-case letter. Each node carries the CTE names in
 * scope there: a WITH list is visible to its query, and to its own members
 * (all of them when RECURSIVE, else those before each).
 */
function walk(root: unknown, check: Check, insideRefusedStatement: boolean): void {
  const stack: Array<[unknown, CteScope]> = [[root, NO_CTES]];
  while (stack.length > 0) {
    const [value, scope] = stack.pop()!;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], scope]);
      continue;
    }
    if (!isRecord(value)) continue;

    // A bare SelectStmt body (set-operation branches are not wrapped) or a wrapped one.
    if ('intoClause' in value && value.intoClause !== undefined) {
      check.problems.add('SELECT … INTO is not allowed: it creates a table; remove the INTO clause');
    }

    const withClause = isRecord(value.withClause) ? value.withClause : undefined;
    const inner = withClause ? pushCtes(withClause, scope, stack) : scope;
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      if (withClause && key === 'withClause') continue;
      const child = value[key];
      if (isNodeTypeName(key) && isRecord(child)) {
        checkNode(key, child, check, inner, insideRefusedStatement);
      }
      stack.push([child, inner]);
    }
  }
}

/** Pushes a WITH list's members with the scope each sees; returns the scope of the query that owns it. */
function pushCtes(withClause: Record<string, unknown>, outer: CteScope, stack: Array<[unknown, CteScope]>): CteScope {
  const ctes = Array.isArray(withClause.ctes) ? withClause.ctes : [];
  const names = ctes.map((cte) => {
    const body = asWrappedNode(cte);
    return body && typeof body[1].ctename === 'string' ? body[1].ctename : '';
  });
  const all = new Set([...outer, ...names]);
  for (let i = ctes.length - 1; i >= 0; i--) {
    stack.push([ctes[i], withClause.recursive === true ? all : new Set([...outer, ...names.slice(0, i)])]);
  }
  return all;
}

function checkNode(type: string, body: Record<string, unknown>, check: Check, scope: CteScope, insideRefusedStatement: boolean): void {
  const { problems } = check;
  switch (type) {
    case 'FuncCall':
      checkFunctionCall(body as FuncCall, check);
      return;
    case 'RangeVar':
      checkRelation(body as RangeVar, check, scope);
      return;
    case 'A_Expr':
      checkOperator(body, check);
      return;
    case 'SubLink':
      checkOperatorNames(body.operName, check);
      return;
    case 'SortBy':
      checkOperatorNames(body.useOp, check);
      return;
    case 'CaseExpr':
      // `CASE x WHEN v` compares with the operator named `=` that the search path finds.
      if (body.arg !== undefined) checkOperatorName('=', false, check);
      return;
    case 'JoinExpr':
      if (body.usingClause !== undefined || body.isNatural === true) checkOperatorName('=', false, check);
      return;
    case 'ColumnRef':
      checkAttributeNotation(body.fields, check);
      return;
    case 'A_Indirection':
      checkAttributeNotation(body.indirection, check);
      return;
    case 'TypeCast':
    case 'ColumnDef':
      checkType(body.typeName, check);
      return;
    case 'RangeTableSample':
      checkSampleMethod(body.method, problems);
      return;
    case 'LockingClause':
      problems.add(`locking clause ${lockingClauseName(body.strength)} is not allowed: it takes row locks; remove it`);
      return;
    case 'IntoClause':
      return; // reported via the intoClause field
    default:
      if (ALLOWED_NODE_TYPES.has(type)) return;
      if (type.endsWith('Stmt')) {
        const name = statementName(type);
        const where = ['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt'].includes(type)
          ? 'data-modifying statements are not allowed, not even inside WITH'
          : 'only SELECT may be nested inside a query';
        problems.add(`${name} inside the query is not allowed: ${where}`);
        return;
      }
      if (!insideRefusedStatement) {
        problems.add(`unsupported SQL construct (${type}) is not allowed in a read-only query; rewrite it using plain SELECT syntax`);
      }
  }
}

function checkFunctionCall(call: FuncCall, check: Check): void {
  const { problems, catalog } = check;
  const parts = nameParts(call.funcname);
  if (!parts || parts.length === 0) {
    problems.add('a function call with an unrecognised name is not allowed');
    return;
  }
  const name = parts[parts.length - 1];
  const shown = `${parts.join('.')}()`;
  if (parts.length > 2 || (parts.length === 2 && parts[0] !== 'pg_catalog')) {
    problems.add(`function ${shown} is not allowed: only built-in functions may be called, unqualified or qualified with pg_catalog`);
    return;
  }
  if (ALLOWED_FUNCTIONS.has(name)) {
    const qualified = parts.length === 2;
    refuseIfReachable(check, catalog.ownerFunctions(name, qualified), (owners) =>
      qualified
        ? `function ${shown} is not allowed: it is not a built-in here; this database created ${owners} in pg_catalog`
        : `function ${shown} is not allowed: this database defines ${owners}, which the call may run instead of the built-in; call pg_catalog.${name}(…) for the built-in`,
    );
    // `int4(x)` is also a cast when no function takes x's type as it is.
    if ((call.args?.length ?? 0) === 1) checkCastTo(name, check);
    return;
  }
  const reason = Object.prototype.hasOwnProperty.call(DANGEROUS_FUNCTION_REASONS, name)
    ? DANGEROUS_FUNCTION_REASONS[name]
    : undefined;
  if (reason) {
    problems.add(`function ${shown} is not allowed: ${reason}`);
  } else if (DANGEROUS_PREFIX.test(name)) {
    problems.add(`function ${shown} is not allowed: it has side effects or server access`);
  } else {
    problems.add(`function ${shown} is not allowed: it is not on the allowlist of side-effect-free built-in functions; rewrite the query with standard built-in functions`);
  }
}

function checkRelation(rel: RangeVar, check: Check, scope: CteScope): void {
  const name = rel.relname ?? '';
  if (!rel.schemaname && !rel.catalogname && scope.has(name)) return; // a CTE of the query
  if (rel.catalogname) {
    check.problems.add(`relation ${rel.catalogname}.${rel.schemaname ?? ''}.${name} is not allowed: name tables by schema and table only`);
    return;
  }
  const resolution = check.catalog.resolveRelation(rel.schemaname || undefined, name);
  if (!resolution.ok) check.problems.add(resolution.reason);
  else for (const type of resolution.ownerTypes) check.typesInPlay.add(type);
}

/** `OPERATOR(myschema.+)` may call any user-defined function, and so may an unqualified operator the owner defined. */
function checkOperator(expr: Record<string, unknown>, check: Check): void {
  const parts = nameParts(expr.name);
  if (!parts || parts.length === 0) return;
  const kind = typeof expr.kind === 'string' ? expr.kind : '';
  if (kind.startsWith('AEXPR_BETWEEN') || kind.startsWith('AEXPR_NOT_BETWEEN')) {
    // BETWEEN is spelled as a keyword but compares with the operators named below.
    for (const op of ['<', '>', '<=', '>=']) checkOperatorName(op, false, check);
    return;
  }
  checkOperatorNames(expr.name, check);
}

function checkOperatorNames(list: unknown, check: Check): void {
  const parts = nameParts(list);
  if (!parts || parts.length === 0) return;
  if (parts.length > 1 && !(parts.length === 2 && parts[0] === 'pg_catalog')) {
    check.problems.add(`operator OPERATOR(${parts.join('.')}) is not allowed: only built-in operators may be used`);
    return;
  }
  checkOperatorName(parts[parts.length - 1]!, parts.length === 2, check);
}

function checkOperatorName(name: string, qualifiedWithPgCatalog: boolean, check: Check): void {
  refuseIfReachable(check, check.catalog.ownerOperators(name, qualifiedWithPgCatalog), (owners) =>
    `operator ${name} is not allowed: this database defines ${owners}, which the expression may run; use built-in operators and functions`,
  );
}

/** `t.f` (and `(t).f`) calls the function f(t) when t has no column f. */
function checkAttributeNotation(fields: unknown, check: Check): void {
  if (!Array.isArray(fields) || fields.length < 2) return;
  const last = asWrappedNode(fields[fields.length - 1]);
  if (!last || last[0] !== 'String' || typeof last[1].sval !== 'string') return;
  const field = last[1].sval;
  refuseIfReachable(check, check.catalog.ownerFunctions(field, false, 1), (owners) =>
    `the reference ….${field} is not allowed: written on a row it calls ${owners}, a function defined in this database; name a column instead`,
  );
}

function checkType(typeName: unknown, check: Check): void {
  if (!isRecord(typeName)) return;
  const parts = nameParts(typeName.names);
  if (!parts || parts.length === 0) return;
  const risky = check.catalog.riskyType(parts);
  if (risky) check.problems.add(`the type ${risky.shown} is not allowed in a query: it is ${risky.why}, defined in this database`);
  const name = parts[parts.length - 1]!;
  check.typesInPlay.add(name);
  checkCastTo(name, check);
}

function checkCastTo(typeName: string, check: Check): void {
  refuseIfReachable(check, check.catalog.ownerCastsTo(typeName), (casts) =>
    `a cast to ${typeName} is not allowed here: this database defines ${casts}, which the cast may run; compare or convert the value another way`,
  );
}

function checkSampleMethod(method: unknown, problems: ProblemList): void {
  const parts = nameParts(method);
  const name = parts?.[parts.length - 1] ?? '';
  if (!parts || parts.length > 1 || !BUILT_IN_SAMPLE_METHODS.has(name)) {
    problems.add(`TABLESAMPLE ${parts?.join('.') ?? '(unknown)'} is not allowed: only the built-in BERNOULLI and SYSTEM methods`);
  }
}

function listed(objects: ReadonlyArray<{ shown: string }>): string {
  const shown = [...new Set(objects.map((o) => o.shown))];
  return shown.length <= 3 ? shown.join(', ') : `${shown.slice(0, 3).join(', ')} and ${shown.length - 3} more`;
}

// ---------------------------------------------------------------------------
// Helpers.

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Node type keys (`SelectStmt`, `A_Const`, `SQLValueFunction`) start upper-case; field names never do. */
function isNodeTypeName(key: string): boolean {
  const first = key.charCodeAt(0);
  return first >= 65 && first <= 90;
}

/** `{ "SelectStmt": { … } }` → ['SelectStmt', body]. */
function asWrappedNode(value: unknown): [string, Record<string, unknown>] | undefined {
  if (!isRecord(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1 || !isNodeTypeName(keys[0])) return undefined;
  const body = value[keys[0]];
  return isRecord(body) ? [keys[0], body] : undefined;
}

/** A list of `{ String: { sval } }` nodes (function and operator names) → plain strings. */
function nameParts(list: unknown): string[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const parts: string[] = [];
  for (const item of list) {
    const wrapped = asWrappedNode(item);
    if (!wrapped || wrapped[0] !== 'String' || typeof wrapped[1].sval !== 'string') return undefined;
    parts.push(wrapped[1].sval);
  }
  return parts;
}

function statementName(type: string): string {
  if (Object.prototype.hasOwnProperty.call(STATEMENT_NAMES, type)) return STATEMENT_NAMES[type];
  // AlterTableStmt → ALTER TABLE
  return type.replace(/Stmt$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
}

function lockingClauseName(strength: unknown): string {
  switch (strength) {
    case 'LCS_FORKEYSHARE': return 'FOR KEY SHARE';
    case 'LCS_FORSHARE': return 'FOR SHARE';
    case 'LCS_FORNOKEYUPDATE': return 'FOR NO KEY UPDATE';
    case 'LCS_FORUPDATE': return 'FOR UPDATE';
    default: return 'FOR UPDATE/SHARE';
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function describeParseError(pg: PgParser, err: unknown, sql: string): string {
  if (pg.hasSqlDetails(err) && err.sqlDetails) {
    // cursorPosition is a 0-based character offset (libpg-query converts PostgreSQL's 1-based one).
    const offset = Math.max(0, Math.min(err.sqlDetails.cursorPosition, sql.length));
    const before = sql.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    return `SQL syntax error: ${err.sqlDetails.message} at position ${offset + 1} (line ${line}, column ${column})`;
  }
  return `SQL syntax error: ${errorMessage(err)}`;
}

/**
 * The statement's own text: without leading/trailing comments, whitespace and
 * semicolons, so that callers may safely wrap it (e.g. in a subquery). The
 * parser reports locations as UTF-8 byte offsets, hence the Buffer slicing.
 */
function extractStatement(pg: PgParser, sql: string, raw: RawStmt): string {
  const bytes = Buffer.from(sql, 'utf8');
  const start = raw.stmt_location ?? 0;
  const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
  let trimmedEnd = end;
  try {
    const tokens = pg.scanSync(sql).tokens;
    let last = -1;
    for (const token of tokens) {
      if (token.start < start || token.end > end) continue;
      if (token.tokenName === 'SQL_COMMENT' || token.tokenName === 'C_COMMENT' || token.text === ';') continue;
      last = Math.max(last, token.end);
    }
    if (last > start) trimmedEnd = last;
  } catch {
    // Fall back to the parser's bounds; the scanner is only used for cosmetics.
  }
  return bytes.subarray(start, trimmedEnd).toString('utf8').trim().replace(/[\s;]+$/, '');
}

/**
 * The parameter numbers a statement refers to ($1 → 1), found in its parse tree (a `$1` inside a string literal is
 * text, not a parameter). Empty when the SQL does not parse: validation reports that.
 */
export async function sqlParameterNumbers(sql: string): Promise<number[]> {
  const pg = await loadParser();
  let tree: ParseResult;
  try {
    tree = pg.parseSync(sql);
  } catch {
    return [];
  }
  const found = new Set<number>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
      return;
    }
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'ParamRef' && value && typeof value === 'object' && typeof (value as { number?: unknown }).number === 'number') {
        found.add((value as { number: number }).number);
      }
      walk(value);
    }
  };
  walk(tree.stmts);
  return [...found].sort((a, b) => a - b);
}
