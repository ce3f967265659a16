/** What introspection learns about one table (or view) of a source. Shared by every source and by schema search. */
export interface ColumnInfo {
  name: string;
  /** The database's own type name, e.g. `integer`, `timestamp with time zone`. */
  type: string;
  nullable: boolean;
  comment?: string;
  isPrimaryKey: boolean;
  /** Set when the column is (the single-column part of) a foreign key. */
  references?: { table: string; column: string };
  /** The most common values of a low-cardinality column (from the planner's statistics), when known. */
  sampleValues?: string[];
}

export interface ForeignKey {
  columns: string[];
  /** Qualified name of the referenced table, as in `TableInfo.qualifiedName`. */
  refTable: string;
  refColumns: string[];
}

export interface TableInfo {
  schema: string;
  name: string;
  /** `name` for tables in `public`, `schema.name` otherwise: the name a query should use. */
  qualifiedName: string;
  kind: 'table' | 'view' | 'collection';
  comment?: string;
  /** Planner estimate (pg_class.reltuples); -1 when unknown. */
  rowEstimate: number;
  columns: ColumnInfo[];
  primaryKey: string[];
  foreignKeys: ForeignKey[];
}

export interface SchemaSnapshot {
  source: string;
  tables: TableInfo[];
  loadedAt: number;
}

/** One table ranked for a question by schema search. */
export interface RankedTable {
  table: TableInfo;
  score: number;
  /** The columns worth showing the model for this question: keys and matching columns first; all columns when the table is small. */
  relevantColumns: ColumnInfo[];
}
