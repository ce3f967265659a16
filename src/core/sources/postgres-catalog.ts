/**
 * What a statement can invoke in one database, read from its own catalog: the objects its owner (or an extension)
 * defined — functions, operators, casts, types — and the relations a query may read. The validator checks a parse
 * tree against this, because an unqualified name is no proof of a built-in: `lower(1)` runs `public.lower(int)`
 * when the owner made one, and an operator, a cast or a view can run any function of theirs.
 *
 * "Built-in" means created by initdb: every such object has an OID below FirstNormalObjectId (16384); everything
 * a user or an extension creates (dblink, postgres_fdw, …) is above it.
 */
import type pg from 'pg';

/** The plain data read from the server (and built by hand in unit tests). */
export interface CatalogData {
  /** Schemas searched for unqualified names, in order (current_schemas(true), temporary schema left out). */
  searchPath: string[];
  /**
   * Relations the role may read: the reason when reading one runs the owner's code, and the owner's types it brings
   * into a query (its columns' types and its own row type).
   */
  relations: Array<{ schema: string; name: string; runsOwnerCode?: string; ownerTypes: string[] }>;
  /**
   * Functions (and aggregates) not created by initdb. `ownerTypes`: the owner's types among the arguments; when
   * there are none the function competes with built-ins for any call of its name, otherwise only when a value of
   * one of those types is involved.
   */
  functions: Array<{ schema: string; name: string; signature: string; arguments: number; ownerTypes: string[] }>;
  /** Operators not created by initdb, or backed by a function that was not. */
  operators: Array<{ schema: string; name: string; function: string; ownerTypes: string[] }>;
  /**
   * Casts that run a function not created by initdb. `targetType` is pg_type.typname of the target; an implicit
   * (or assignment) cast runs wherever a value of its source type meets its target, with no name in the query.
   */
  casts: Array<{ source: string; target: string; targetType: string; function: string; implicit: boolean; ownerTypes: string[] }>;
  /** Types not created by initdb whose input, checks or behaviour may run the owner's code. */
  riskyTypes: Array<{ schema: string; name: string; why: string }>;
}

export interface OwnerObject {
  /** How a message names it, e.g. `public.lower(integer)`. */
  shown: string;
  /** The owner's types the statement must involve for this object to be chosen; empty: any statement may reach it. */
  ownerTypes: readonly string[];
}

/** Catalog views and tables that are safe to read: structure only, no secrets, no other sessions' work. */
const HARMLESS_CATALOG_RELATIONS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  [
    'pg_catalog',
    new Set([
      'pg_tables', 'pg_views', 'pg_matviews', 'pg_indexes', 'pg_class', 'pg_namespace', 'pg_attribute', 'pg_type',
      'pg_enum', 'pg_constraint', 'pg_index', 'pg_description', 'pg_inherits', 'pg_stat_user_tables',
      'pg_stat_user_indexes', 'pg_statio_user_tables',
    ]),
  ],
  [
    'information_schema',
    new Set([
      'tables', 'columns', 'views', 'schemata', 'table_constraints', 'key_column_usage', 'referential_constraints',
      'constraint_column_usage',
    ]),
  ],
]);

export type RelationResolution =
  | { ok: true; ownerTypes: readonly string[] }
  | { ok: false; reason: string };

export class DatabaseCatalog {
  private readonly searchPath: readonly string[];
  private readonly relations = new Map<string, Map<string, CatalogData['relations'][number]>>();
  private readonly implicitCasts: OwnerObject[];
  private readonly functions = new Map<string, Array<CatalogData['functions'][number]>>();
  private readonly operators = new Map<string, Array<CatalogData['operators'][number]>>();
  private readonly castsByTarget = new Map<string, Array<CatalogData['casts'][number]>>();
  private readonly riskyTypes = new Map<string, Array<CatalogData['riskyTypes'][number]>>();

  constructor(data: CatalogData) {
    this.searchPath = data.searchPath;
    for (const r of data.relations) {
      let names = this.relations.get(r.schema);
      if (!names) this.relations.set(r.schema, (names = new Map()));
      names.set(r.name, r);
    }
    this.implicitCasts = data.casts.filter((c) => c.implicit).map(describeCast);
    group(this.functions, data.functions, (f) => f.name);
    group(this.operators, data.operators, (o) => o.name);
    group(this.castsByTarget, data.casts, (c) => c.targetType);
    group(this.riskyTypes, data.riskyTypes, (t) => t.name);
  }

  /**
   * The owner's functions a call of this name may resolve to. Unqualified, PostgreSQL considers every schema of
   * the search path and picks by argument types, so any visible one may win; qualified with pg_catalog, only those
   * created inside pg_catalog. `arguments` narrows to candidates that can take that many arguments.
   */
  ownerFunctions(name: string, qualifiedWithPgCatalog: boolean, argumentCount?: number): OwnerObject[] {
    return this.visible(this.functions.get(name), qualifiedWithPgCatalog)
      .filter((f) => argumentCount === undefined || f.arguments === argumentCount)
      .map((f) => ({ shown: `${f.schema}.${f.signature}`, ownerTypes: f.ownerTypes }));
  }

  ownerOperators(name: string, qualifiedWithPgCatalog: boolean): OwnerObject[] {
    return this.visible(this.operators.get(name), qualifiedWithPgCatalog).map((o) => ({ shown: `${o.schema}.${o.name} (${o.function})`, ownerTypes: o.ownerTypes }));
  }

  /** The owner's casts to a type (by its pg_type name, e.g. `int4`), chosen by the value's type at analysis. */
  ownerCastsTo(typeName: string): OwnerObject[] {
    return (this.castsByTarget.get(typeName) ?? []).map(describeCast);
  }

  /** The owner's casts that run with no name in the query, whenever a value of their source type is involved. */
  ownerImplicitCasts(): readonly OwnerObject[] {
    return this.implicitCasts;
  }

  /** A type of the owner's whose input or checks may run their code, when a name (qualified or not) may mean it. */
  riskyType(parts: readonly string[]): { shown: string; why: string } | undefined {
    const name = parts[parts.length - 1]!;
    const schemas = parts.length > 1 ? [parts[0]!] : this.searchPath;
    const found = (this.riskyTypes.get(name) ?? []).find((t) => schemas.includes(t.schema));
    return found ? { shown: `${found.schema}.${found.name}`, why: found.why } : undefined;
  }

  /** Whether a relation named in FROM resolves to one a query may read. */
  resolveRelation(schema: string | undefined, name: string): RelationResolution {
    const shown = schema ? `${schema}.${name}` : name;
    if (schema === undefined && name.startsWith('pg_')) {
      // pg_catalog is searched first (implicitly) for relations, and every catalog relation's name starts with pg_.
      return this.catalogRelation('pg_catalog', name, shown);
    }
    if (schema !== undefined && HARMLESS_CATALOG_RELATIONS.has(schema)) return this.catalogRelation(schema, name, shown);
    const schemas = schema !== undefined ? [schema] : this.searchPath;
    for (const candidate of schemas) {
      const names = this.relations.get(candidate);
      const relation = names?.get(name);
      if (relation) {
        if (relation.runsOwnerCode) return { ok: false, reason: `relation ${shown} is not allowed: reading it runs code defined in this database (${relation.runsOwnerCode})` };
        return { ok: true, ownerTypes: relation.ownerTypes };
      }
      if (schema === undefined && HARMLESS_CATALOG_RELATIONS.get(candidate)?.has(name)) return { ok: true, ownerTypes: [] };
    }
    return { ok: false, reason: `relation ${shown} is not allowed: it is not one of the tables or views this connection can read; use the tables in the schema above` };
  }

  private catalogRelation(schema: string, name: string, shown: string): RelationResolution {
    if (HARMLESS_CATALOG_RELATIONS.get(schema)?.has(name)) return { ok: true, ownerTypes: [] };
    return { ok: false, reason: `relation ${shown} is not allowed: of the system catalogs only a few structural views may be read (it may expose credentials, server configuration or other sessions' work)` };
  }

  private visible<T extends { schema: string }>(candidates: T[] | undefined, qualifiedWithPgCatalog: boolean): T[] {
    if (!candidates) return [];
    const schemas = qualifiedWithPgCatalog ? ['pg_catalog'] : this.searchPath;
    return candidates.filter((c) => schemas.includes(c.schema));
  }
}

function describeCast(c: CatalogData['casts'][number]): OwnerObject {
  return { shown: `the cast from ${c.source} to ${c.target} (${c.function})`, ownerTypes: c.ownerTypes };
}

function group<T>(into: Map<string, T[]>, items: readonly T[], key: (item: T) => string): void {
  for (const item of items) {
    const k = key(item);
    const list = into.get(k);
    if (list) list.push(item);
    else into.set(k, [item]);
  }
}

// ---------------------------------------------------------------------------
// Reading it from the server.

const FIRST_NORMAL_OID = 16384;

/** A type is the owner's when initdb did not create it (arrays count by their element type). */
function isOwnerType(oid: string): string {
  return `(${oid} >= ${FIRST_NORMAL_OID} OR (SELECT et.typelem >= ${FIRST_NORMAL_OID} FROM pg_type et WHERE et.oid = ${oid}))`;
}

/** The pg_type name an owner's type is known by (an array by its element's). */
function ownerTypeName(oid: string): string {
  return `(SELECT CASE WHEN nt.typelem <> 0 AND nt.typcategory = 'A' THEN (SELECT el.typname FROM pg_type el WHERE el.oid = nt.typelem)::text ELSE nt.typname::text END FROM pg_type nt WHERE nt.oid = ${oid})`;
}

function ownerTypesOf(oids: string): string {
  return `array_to_json(ARRAY(SELECT DISTINCT ${ownerTypeName('ot')} FROM unnest(${oids}) ot WHERE ot <> 0 AND ${isOwnerType('ot')}))`;
}

/** `schema.name(argument types)` of a function, always schema-qualified (regprocedure's text drops visible schemas). */
function qualifiedFunction(oid: string): string {
  return `(SELECT fn.nspname || '.' || fp.proname || '(' || pg_get_function_identity_arguments(fp.oid) || ')'
           FROM pg_proc fp JOIN pg_namespace fn ON fn.oid = fp.pronamespace WHERE fp.oid = ${oid})`;
}

const SEARCH_PATH_SQL = `SELECT array_to_json(ARRAY(SELECT s FROM unnest(current_schemas(true)) s WHERE s NOT LIKE 'pg\\_temp\\_%')) AS path`;

const RELATIONS_SQL = `
SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name,
       array_to_json(ARRAY(SELECT DISTINCT ${ownerTypeName('a.atttypid')} FROM pg_attribute a
                           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND ${isOwnerType('a.atttypid')})
                     || ARRAY[${ownerTypeName('c.reltype')}]) AS "ownerTypes"
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND has_table_privilege(c.oid, 'SELECT')`;

const FUNCTIONS_SQL = `
SELECT n.nspname AS schema, p.proname AS name, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS signature,
       p.pronargs::int AS arguments, ${ownerTypesOf('p.proargtypes::oid[]')} AS "ownerTypes"
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.oid >= ${FIRST_NORMAL_OID}`;

const OPERATORS_SQL = `
SELECT n.nspname AS schema, o.oprname AS name, ${qualifiedFunction('o.oprcode')} AS function,
       ${ownerTypesOf('ARRAY[o.oprleft, o.oprright]')} AS "ownerTypes"
FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
WHERE o.oid >= ${FIRST_NORMAL_OID} OR o.oprcode::oid >= ${FIRST_NORMAL_OID}`;

const CASTS_SQL = `
SELECT format_type(c.castsource, NULL) AS source, format_type(c.casttarget, NULL) AS target, t.typname AS "targetType",
       ${qualifiedFunction('c.castfunc')} AS function, c.castcontext IN ('i', 'a') AS implicit,
       ${ownerTypesOf('ARRAY[c.castsource]')} AS "ownerTypes"
FROM pg_cast c JOIN pg_type t ON t.oid = c.casttarget
WHERE c.castmethod = 'f' AND (c.oid >= ${FIRST_NORMAL_OID} OR c.castfunc::oid >= ${FIRST_NORMAL_OID})`;

/**
 * The owner's types whose use may run their code: base, range and multirange types (input/output, canonical and
 * subtype functions), and domains with CHECK constraints (checked on every cast to the domain). Enums and
 * composite types run only built-in code.
 */
const RISKY_TYPES_SQL = `
SELECT n.nspname AS schema, t.typname AS name,
       CASE t.typtype WHEN 'b' THEN 'a base type with its own input and output functions'
                      WHEN 'r' THEN 'a range type with its own functions'
                      WHEN 'm' THEN 'a multirange type with its own functions'
                      WHEN 'd' THEN 'a domain whose CHECK constraints run on every cast to it'
                      ELSE 'a pseudo-type' END AS why
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.oid >= ${FIRST_NORMAL_OID} AND t.typcategory <> 'A'
  AND (t.typtype IN ('b', 'r', 'm', 'p') OR (t.typtype = 'd' AND EXISTS (SELECT 1 FROM pg_constraint k WHERE k.contypid = t.oid)))`;

/**
 * What reading a view or a table with row-level security runs: the functions and operators its rewrite rule or
 * policies depend on (pg_depend), and the other relations a view reads (so a view over such a view is caught too).
 */
const RELATION_CODE_SQL = `
SELECT owner.relid::int AS relid, owner.code, owner.reads::int AS reads
FROM (
  SELECT r.ev_class AS relid, CASE d.refclassid WHEN 'pg_proc'::regclass THEN ${qualifiedFunction('d.refobjid')}
                                                WHEN 'pg_operator'::regclass THEN 'operator ' || d.refobjid::regoperator::text END AS code,
         CASE WHEN d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class THEN d.refobjid END AS reads
  FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
  WHERE (d.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass) AND d.refobjid >= ${FIRST_NORMAL_OID})
     OR (d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class)
  UNION ALL
  SELECT p.polrelid, CASE d.refclassid WHEN 'pg_proc'::regclass THEN ${qualifiedFunction('d.refobjid')}
                                       ELSE 'operator ' || d.refobjid::regoperator::text END, NULL
  FROM pg_policy p JOIN pg_depend d ON d.classid = 'pg_policy'::regclass AND d.objid = p.oid
  WHERE d.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass) AND d.refobjid >= ${FIRST_NORMAL_OID}
) owner
GROUP BY 1, 2, 3`;

interface RelationCodeRow {
  relid: number;
  code: string | null;
  reads: number | null;
}

/** Reads the catalog in one read-only round of queries (cached by the source per connection). */
export async function loadCatalog(client: pg.ClientBase): Promise<DatabaseCatalog> {
  const path = await client.query<{ path: string[] }>(SEARCH_PATH_SQL);
  const relations = await client.query<{ oid: number; schema: string; name: string; ownerTypes: string[] }>(RELATIONS_SQL);
  const functions = await client.query<CatalogData['functions'][number]>(FUNCTIONS_SQL);
  const operators = await client.query<CatalogData['operators'][number]>(OPERATORS_SQL);
  const casts = await client.query<CatalogData['casts'][number]>(CASTS_SQL);
  const riskyTypes = await client.query<CatalogData['riskyTypes'][number]>(RISKY_TYPES_SQL);
  const code = await client.query<RelationCodeRow>(RELATION_CODE_SQL);
  const runsOwnerCode = ownerCodeByRelation(code.rows);
  return new DatabaseCatalog({
    searchPath: path.rows[0]?.path ?? ['pg_catalog', 'public'],
    relations: relations.rows.map((r) => ({ schema: r.schema, name: r.name, ownerTypes: r.ownerTypes, runsOwnerCode: runsOwnerCode.get(r.oid) })),
    functions: functions.rows,
    operators: operators.rows,
    casts: casts.rows,
    riskyTypes: riskyTypes.rows,
  });
}

/** Relation oid → what of the owner's code reading it runs; a view inherits what the relations it reads run. */
function ownerCodeByRelation(rows: readonly RelationCodeRow[]): Map<number, string> {
  const direct = new Map<number, string>();
  const reads = new Map<number, number[]>();
  for (const row of rows) {
    if (row.code && !direct.has(row.relid)) direct.set(row.relid, `it calls ${row.code}`);
    if (row.reads !== null) {
      const list = reads.get(row.relid);
      if (list) list.push(row.reads);
      else reads.set(row.relid, [row.reads]);
    }
  }
  const resolved = new Map<number, string>();
  const visiting = new Set<number>();
  const resolve = (relid: number): string | undefined => {
    if (resolved.has(relid)) return resolved.get(relid);
    const own = direct.get(relid);
    if (own) {
      resolved.set(relid, own);
      return own;
    }
    if (visiting.has(relid)) return undefined;
    visiting.add(relid);
    for (const inner of reads.get(relid) ?? []) {
      const found = resolve(inner);
      if (found) {
        resolved.set(relid, found);
        return found;
      }
    }
    return undefined;
  };
  for (const relid of new Set([...direct.keys(), ...reads.keys()])) resolve(relid);
  return resolved;
}
