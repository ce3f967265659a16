/**
 * Validation of the model's combine SQL (issue 7 item 3), on DuckDB's own parse tree.
 *
 * The engine asks DuckDB for the statement's AST (`json_serialize_sql`, which refuses anything but SELECT: COPY,
 * ATTACH, INSTALL, LOAD, PRAGMA, SET, CREATE, DML…) and this module walks it:
 * - table references: only the loaded operation tables, or a CTE visible at that point (schema `main`/`memory`
 *   at most: no other catalog or schema, so no system views, no file paths used as table names, no time travel);
 * - table functions: only the pure generators in TABLE_FUNCTIONS (read_csv, glob, query, duckdb_* … are refused);
 * - scalar, aggregate and window functions: an allowlist — DuckDB's own built-in functions of schema `main` that
 *   are side-effect free and not volatile (read from the catalog once per engine, before any model output is
 *   seen), minus a denylist of anything touching files, the network, extensions, settings, variables, secrets,
 *   logs, sequences or the environment, and anything that runs SQL from a string;
 * - expression and node kinds: allowlists too, so a construct this file does not know is refused, not trusted.
 *
 * This is one layer of two: the engine also runs with external access disabled and the configuration locked,
 * so even a query that slipped through could not read a file.
 */

/** What the walk checks names against. */
export interface AstCheckContext {
  /** Loaded table names, lower case. */
  tables: ReadonlySet<string>;
  /** Allowed function names, lower case (see ALLOWED_FUNCTIONS_QUERY and allowedFunctionNames). */
  functions: ReadonlySet<string>;
}

/** Table functions that only generate values from their arguments. */
export const TABLE_FUNCTIONS: ReadonlySet<string> = new Set(['range', 'generate_series', 'unnest']);

/**
 * Functions the binder handles itself (so they are not in duckdb_functions()) or that are volatile but harmless,
 * plus the date/time keywords DuckDB parses as function calls.
 */
const EXTRA_ALLOWED_FUNCTIONS = ['unnest', 'unlist', 'grouping', 'grouping_id', 'random', 'uuid', 'gen_random_uuid', 'uuidv4', 'uuidv7', 'error', 'current_date', 'current_localtime', 'current_localtimestamp', 'get_current_time', 'get_current_timestamp', 'now', 'today', 'transaction_timestamp'];

/** Exact names refused whatever the catalog says: session, environment, settings, dynamic SQL, side effects. */
const DENIED_FUNCTIONS: ReadonlySet<string> = new Set([
  'getenv', 'current_setting', 'getvariable', 'which_secret', 'query', 'query_table', 'sql_auto_complete',
  'json_serialize_sql', 'json_deserialize_sql', 'json_serialize_plan', 'json_execute_serialized_sql',
  'write_log', 'parse_duckdb_log_message', 'sleep_ms', 'pg_sleep', 'nextval', 'currval', 'setseed', 'stats',
  'version', 'platform', 'user_agent', 'current_database', 'current_schema', 'current_schemas', 'current_catalog',
  'current_user', 'current_role', 'session_user', 'user', 'current_query', 'current_query_id',
  'current_connection_id', 'current_transaction_id', 'txid_current', 'in_search_path', 'get_block_size',
  'checkpoint', 'force_checkpoint', 'glob', 'sniff_csv', 'load', 'install', 'attach', 'detach', 'copy', 'export',
  'import', 'import_database', 'copy_database', 'database_size', 'storage_info', 'metadata_info', 'table_info',
  'show', 'summary', 'functions', 'collations', 'database_list', 'test_all_types', 'test_vector_types',
]);

/** Families refused by name: file and network readers, catalog metadata, extension and settings helpers. */
const DENIED_NAME_PATTERN =
  /^(read_|duckdb_|pragma_|parquet_|iceberg_|delta_|sqlite_|postgres_|mysql_|http|s3_|gcs_|azure_|__|enable_|disable_|pg_)|_scan$|secret|extension|setting|variable|checkpoint|sleep|getenv|_sql$|serialize/;

/**
 * The allowlist's source: built-in scalar, aggregate and macro functions of schema `main` with no side effects and
 * stable results (random() and friends are added back by name; macros report neither, hence the coalesce). Run by
 * the engine on its own connection.
 */
export const ALLOWED_FUNCTIONS_QUERY = `SELECT DISTINCT lower(function_name) AS name FROM duckdb_functions()
  WHERE database_name = 'system' AND schema_name = 'main' AND function_type IN ('scalar', 'aggregate', 'macro')
    AND NOT coalesce(has_side_effects, false) AND coalesce(stability, '') <> 'VOLATILE'`;

/** Builds the function allowlist from the catalog's names (ALLOWED_FUNCTIONS_QUERY), denylist applied. */
export function allowedFunctionNames(catalogNames: Iterable<string>): Set<string> {
  const allowed = new Set<string>();
  for (const name of [...catalogNames, ...EXTRA_ALLOWED_FUNCTIONS]) {
    const lower = name.toLowerCase();
    if (!isDeniedFunctionName(lower)) allowed.add(lower);
  }
  return allowed;
}

export function isDeniedFunctionName(name: string): boolean {
  return DENIED_FUNCTIONS.has(name) || DENIED_NAME_PATTERN.test(name);
}

/** What `json_serialize_sql` returns: statements, or an error (a parse error, or a statement that is not a SELECT). */
export type SerializedSql = { error: true; error_type?: string; error_message?: string } | { error: false; statements: unknown[] };

/**
 * Turns json_serialize_sql's output into problems (empty when the single statement passes every check), each
 * specific enough to feed back to the model for a corrected query.
 */
export function checkSerializedSql(serialized: SerializedSql, context: AstCheckContext): string[] {
  if (serialized.error) return [describeParseError(serialized.error_type, serialized.error_message)];
  if (serialized.statements.length !== 1) return [`exactly one SELECT statement is allowed (got ${serialized.statements.length})`];
  const problems = new Set<string>();
  new AstWalker(context, (problem) => problems.add(problem)).statement(serialized.statements[0]);
  return [...problems];
}

function describeParseError(type: string | undefined, message: string | undefined): string {
  if (type === 'not implemented' && /only select/i.test(message ?? '')) {
    return 'only a read-only SELECT (or WITH … SELECT) over the operation tables is allowed: no COPY, ATTACH, INSTALL, LOAD, PRAGMA, SET, CREATE, INSERT, UPDATE, DELETE, EXPLAIN or other statements';
  }
  return `the SQL does not parse: ${message ?? type ?? 'unknown error'}`;
}

// ---------------------------------------------------------------------------
// The walk.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Expression classes (ParsedExpression) a combine query may use. PARAMETER and DEFAULT have no meaning here. */
const EXPRESSION_CLASSES = new Set(['BETWEEN', 'CASE', 'CAST', 'COLLATE', 'COLUMN_REF', 'COMPARISON', 'CONJUNCTION', 'CONSTANT', 'FUNCTION', 'LAMBDA', 'LAMBDA_REF', 'OPERATOR', 'POSITIONAL_REFERENCE', 'STAR', 'SUBQUERY', 'WINDOW']);
const QUERY_NODES = new Set(['SELECT_NODE', 'SET_OPERATION_NODE', 'RECURSIVE_CTE_NODE', 'CTE_NODE']);
/** Catalog and schema names a loaded table may be qualified with (`memory` is the in-memory database's name). */
const TABLE_QUALIFIERS = new Set(['', 'main', 'memory']);

class AstWalker {
  constructor(
    private readonly context: AstCheckContext,
    private readonly report: (problem: string) => void,
  ) {}

  statement(statement: unknown): void {
    const root = asObject(asObject(statement)?.node ?? null);
    if (!root || !isQueryNode(root)) {
      this.report('the statement could not be read as a SELECT');
      return;
    }
    this.visit(root, new Set());
  }

  /** Dispatches on what the object is: an expression, a query node, a table reference, or plain data. */
  private visit(value: Json, ctes: ReadonlySet<string>): void {
    if (Array.isArray(value)) {
      for (const item of value) this.visit(item, ctes);
      return;
    }
    const node = asObject(value);
    if (!node) return;
    if (typeof node.class === 'string') this.expression(node, ctes);
    else if (isQueryNode(node)) this.queryNode(node, ctes);
    else if (isTableRef(node)) this.tableRef(node, ctes);
    else if ('table_name' in node || 'function_name' in node) this.report('the query has a construct the validator does not recognise');
    else this.children(node, ctes);
  }

  private children(node: JsonObject, ctes: ReadonlySet<string>, skip: readonly string[] = []): void {
    for (const [key, child] of Object.entries(node)) if (!skip.includes(key)) this.visit(child, ctes);
  }

  private expression(node: JsonObject, ctes: ReadonlySet<string>): void {
    const kind = String(node.class);
    if (!EXPRESSION_CLASSES.has(kind)) {
      this.report(kind === 'PARAMETER' ? 'parameters ($1, ?) are not available in the combine step: write values inline' : `${kind.toLowerCase()} expressions are not allowed`);
      return;
    }
    if (kind === 'CONSTANT') return; // a literal: nothing inside to check
    if (kind === 'CAST') {
      this.visit(node.child ?? null, ctes); // the target type is data, not something that runs
      return;
    }
    if (kind === 'FUNCTION' || kind === 'WINDOW') this.functionCall(node);
    this.children(node, ctes);
  }

  private functionCall(node: JsonObject): void {
    const name = String(node.function_name ?? '').toLowerCase();
    const schema = String(node.schema ?? '').toLowerCase();
    const catalog = String(node.catalog ?? '').toLowerCase();
    if (catalog !== '' || (schema !== '' && schema !== 'main')) {
      this.report(`function ${qualified(catalog, schema, name)}() is not allowed: call built-in functions without a schema`);
    } else if (isDeniedFunctionName(name)) {
      this.report(`function ${name}() is not allowed in the combine step: it reaches outside the operation tables (files, settings, the environment, the catalog), has side effects, or runs SQL`);
    } else if (!this.context.functions.has(name)) {
      this.report(`function ${name}() is not allowed in the combine step (not a known side-effect-free built-in)`);
    }
  }

  private queryNode(node: JsonObject, outer: ReadonlySet<string>): void {
    const type = String(node.type);
    if (!QUERY_NODES.has(type)) {
      this.report(`${type.toLowerCase()} is not allowed`);
      return;
    }
    // Each CTE sees the ones before it and itself (WITH RECURSIVE); the query body sees them all. A name is
    // never visible outside its WITH, so `WITH x AS (…)` cannot unlock a table named x elsewhere in the query.
    const entries = cteEntries(node);
    if (!entries) {
      this.report('the query has a WITH clause the validator does not recognise');
      return;
    }
    const ctes = new Set(outer);
    for (const entry of entries) {
      ctes.add(entry.name);
      this.visit(entry.definition, new Set(ctes));
    }
    if (type === 'RECURSIVE_CTE_NODE' && typeof node.cte_name === 'string') ctes.add(node.cte_name.toLowerCase());
    this.children(node, ctes, ['cte_map']);
  }

  private tableRef(node: JsonObject, ctes: ReadonlySet<string>): void {
    switch (node.type) {
      case 'BASE_TABLE':
        this.baseTable(node, ctes);
        return;
      case 'TABLE_FUNCTION':
        this.tableFunction(node, ctes);
        return;
      case 'JOIN':
      case 'SUBQUERY':
      case 'EMPTY':
      case 'EXPRESSION_LIST':
        this.children(node, ctes);
        return;
      case 'SHOW_REF':
        this.report('DESCRIBE, SHOW and SUMMARIZE are not allowed: the tables and their columns are listed in the prompt');
        return;
      case 'PIVOT':
        this.report('PIVOT and UNPIVOT are not allowed: use conditional aggregates such as sum(x) FILTER (WHERE …)');
        return;
      default:
        this.report(`table reference of kind ${String(node.type).toLowerCase()} is not allowed`);
    }
  }

  private baseTable(node: JsonObject, ctes: ReadonlySet<string>): void {
    const name = String(node.table_name ?? '').toLowerCase();
    const schema = String(node.schema_name ?? '').toLowerCase();
    const catalog = String(node.catalog_name ?? '').toLowerCase();
    const unqualified = schema === '' && catalog === '';
    if (!TABLE_QUALIFIERS.has(schema) || !TABLE_QUALIFIERS.has(catalog)) {
      this.report(`table ${qualified(catalog, schema, name)} is not allowed: only the operation tables (${this.tableList()}) can be read`);
    } else if (!(unqualified && ctes.has(name)) && !this.context.tables.has(name)) {
      this.report(`unknown table ${JSON.stringify(String(node.table_name ?? ''))}: only the operation tables (${this.tableList()}) and CTEs defined in the query can be read`);
    }
    if (node.at_clause !== null && node.at_clause !== undefined) this.report('AT (VERSION/TIMESTAMP) time travel is not allowed');
  }

  private tableFunction(node: JsonObject, ctes: ReadonlySet<string>): void {
    const call = asObject(node.function ?? null);
    const name = String(call?.function_name ?? '').toLowerCase();
    const unqualified = String(call?.schema ?? '') === '' && String(call?.catalog ?? '') === '';
    if (!call || !unqualified || !TABLE_FUNCTIONS.has(name)) {
      this.report(`table function ${name || '(unknown)'}() is not allowed: only ${[...TABLE_FUNCTIONS].join(', ')} may appear in FROM, besides the operation tables`);
      return;
    }
    this.visit(call.children ?? null, ctes);
    this.children(node, ctes, ['function']);
  }

  private tableList(): string {
    return [...this.context.tables].sort().join(', ') || 'none loaded';
  }
}

function asObject(value: unknown): JsonObject | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

/** Query nodes carry their CTEs and result modifiers. */
function isQueryNode(node: JsonObject): boolean {
  return typeof node.type === 'string' && 'cte_map' in node && 'modifiers' in node;
}

/** Table references (TableRef) all serialise their alias, sample and query location. */
function isTableRef(node: JsonObject): boolean {
  return typeof node.type === 'string' && 'alias' in node && 'sample' in node && 'query_location' in node;
}

/** The node's CTEs in order; undefined when their shape is not the one this file knows (refused, not skipped). */
function cteEntries(node: JsonObject): { name: string; definition: Json }[] | undefined {
  const map = asObject(node.cte_map ?? null)?.map;
  if (!Array.isArray(map)) return undefined;
  const entries: { name: string; definition: Json }[] = [];
  for (const entry of map) {
    const item = asObject(entry);
    if (!item || typeof item.key !== 'string' || !('value' in item)) return undefined;
    entries.push({ name: item.key.toLowerCase(), definition: item.value ?? null });
  }
  return entries;
}

function qualified(catalog: string, schema: string, name: string): string {
  return [catalog, schema, name].filter(Boolean).join('.');
}
