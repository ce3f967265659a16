/**
 * The Connections view: one node per source, its tables and views, their columns. A source's schema loads when
 * its node is first expanded, in the background: the embedded demo database takes seconds to start, and the tree
 * shows a loading state meanwhile instead of waiting.
 */
import * as vscode from 'vscode';
import type { SourceKind } from '../../core/events';
import type { ColumnInfo, SchemaSnapshot, TableInfo } from '../../core/schema/types';
import type { DataSource } from '../../core/sources/source';
import type { Services } from '../services';
import { columnDescription, rowEstimateText } from '../viewText';

/** A source's node; Test/Edit/Remove/Refresh receive it as their argument when run from the view. */
export interface ConnectionNode {
  readonly type: 'connection';
  readonly source: DataSource;
  /** False for the embedded demo database, which is not in `ceneca.connections`. */
  readonly configured: boolean;
  /** Unique in the tree even when settings repeat an id by mistake (a repeated TreeItem id breaks the view). */
  readonly treeId: string;
}

interface TableNode {
  readonly type: 'table';
  readonly parentId: string;
  readonly sourceKind: SourceKind;
  readonly table: TableInfo;
}

/** The codicon of each kind of source (the Add Connection form shows the same). */
export const KIND_ICONS: Readonly<Record<SourceKind, string>> = { postgres: 'database', mongodb: 'json', qdrant: 'symbol-array', slack: 'comment-discussion' };

/** What a kind of source holds, singular and plural: the tree says "3 channels", not "3 tables", for Slack. */
const CONTENT_NOUNS: Readonly<Record<SourceKind, [string, string]>> = {
  postgres: ['table', 'tables'],
  mongodb: ['collection', 'collections'],
  qdrant: ['collection', 'collections'],
  slack: ['channel', 'channels'],
};

interface ColumnNode {
  readonly type: 'column';
  readonly parentId: string;
  readonly table: TableInfo;
  readonly column: ColumnInfo;
}

/** A line in place of children: "Loading schema…", an error, "No tables". */
interface MessageNode {
  readonly type: 'message';
  readonly id: string;
  readonly text: string;
  readonly icon: vscode.ThemeIcon;
  readonly tooltip?: string;
}

type Node = ConnectionNode | TableNode | ColumnNode | MessageNode;

/** What the view knows about one source's schema. */
interface SchemaState {
  status: 'idle' | 'loading' | 'loaded' | 'error';
  /** The refresh generation the last load started in; an older one is read again when next shown. */
  generation?: number;
  /** Kept while a reload runs, so the tables stay visible. */
  tables?: TableNode[];
  /** While loading: how far, 0..100 (the demo database reports its start-up). */
  percent?: number;
  error?: string;
}

export function isConnectionNode(value: unknown): value is ConnectionNode {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'connection' && 'source' in value;
}

export function registerConnectionsView(services: Services): vscode.Disposable {
  const provider = new ConnectionsTreeProvider(services);
  const view = vscode.window.createTreeView('ceneca.connections', { treeDataProvider: provider, showCollapseAll: true });
  return vscode.Disposable.from(view, provider, services.engineHost.onDidChange(() => provider.refresh()));
}

class ConnectionsTreeProvider implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  /** Keyed by the source object: a rebuilt source (settings changed) starts afresh, the old state is collected. */
  private readonly states = new WeakMap<DataSource, SchemaState>();
  /** The tree matches elements by identity, so each source keeps one node object. */
  private readonly connectionNodes = new WeakMap<DataSource, ConnectionNode>();
  private generation = 0;

  constructor(private readonly services: Services) {}

  /** Sources or schemas may have changed: expanded schemas are read again (from the source's cache, so quickly). */
  refresh(): void {
    this.generation++;
    this.changed.fire(undefined);
  }

  getTreeItem(node: Node): vscode.TreeItem {
    switch (node.type) {
      case 'connection':
        return this.connectionItem(node);
      case 'table':
        return tableItem(node);
      case 'column':
        return columnItem(node);
      case 'message':
        return messageItem(node);
    }
  }

  getChildren(node?: Node): Node[] {
    if (!node) return this.connections();
    if (node.type === 'table') return node.table.columns.map((column) => ({ type: 'column', parentId: node.parentId, table: node.table, column }));
    if (node.type !== 'connection') return [];
    const state = this.stateOf(node.source);
    if (state.status !== 'loading' && state.generation !== this.generation) this.load(node);
    if (state.tables) {
      const empty = node.source.kind === 'postgres' ? 'No tables or views' : `No ${CONTENT_NOUNS[node.source.kind][1]}`;
      return state.tables.length > 0 ? state.tables : [message(`${node.treeId}/#empty`, empty, 'info')];
    }
    if (state.status === 'error') return [message(`${node.treeId}/#error`, state.error ?? 'Could not read the schema', 'error', state.error)];
    return [message(`${node.treeId}/#loading`, 'Loading schema…', 'loading~spin')];
  }

  private connections(): ConnectionNode[] {
    let configuredIds: Set<string>;
    let sources: DataSource[];
    try {
      configuredIds = new Set(this.services.engineHost.settings.connections.map((c) => c.id));
      sources = this.services.engineHost.getSources();
    } catch (error) {
      this.services.log.error(`connections view: ${errorText(error)}`);
      return [];
    }
    return sources.map((source, index) => {
      let node = this.connectionNodes.get(source);
      if (!node) {
        const repeated = sources.findIndex((s) => s.id === source.id) !== index;
        node = { type: 'connection', source, configured: configuredIds.has(source.id), treeId: `connection/${source.id}${repeated ? `#${index}` : ''}` };
        this.connectionNodes.set(source, node);
      }
      return node;
    });
  }

  private stateOf(source: DataSource): SchemaState {
    let state = this.states.get(source);
    if (!state) {
      state = { status: 'idle' };
      this.states.set(source, state);
    }
    return state;
  }

  /** Reads the schema in the background; the node shows "loading" until it arrives. */
  private load(node: ConnectionNode): void {
    const state = this.stateOf(node.source);
    state.status = 'loading';
    state.generation = this.generation;
    state.percent = undefined;
    const onProgress = (fraction: number): void => {
      const percent = Math.round(fraction * 100);
      // Redrawn in steps of 10%: enough to show progress, few enough not to flood the view.
      if (state.status !== 'loading' || percent >= 100 || (state.percent !== undefined && percent < state.percent + 10)) return;
      state.percent = percent;
      this.redraw(node);
    };
    const started = node.source.introspect({ onProgress }).then(
      (snapshot) => {
        state.status = 'loaded';
        state.tables = tableNodes(node.treeId, node.source.kind, snapshot);
        state.error = undefined;
      },
      (error: unknown) => {
        state.status = 'error';
        state.tables = undefined;
        state.error = errorText(error);
        this.services.log.warn(`schema of ${node.source.id}: ${state.error}`);
      },
    );
    this.redraw(node); // for the loading icon
    void started.then(() => this.redraw(node));
  }

  /** Redraws a node soon, never from inside getChildren (load starts there, and may report progress at once). */
  private redraw(node: ConnectionNode): void {
    setTimeout(() => this.changed.fire(node), 0);
  }

  private connectionItem(node: ConnectionNode): vscode.TreeItem {
    const { source } = node;
    const state = this.stateOf(source);
    const item = new vscode.TreeItem(source.name, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = node.treeId;
    item.contextValue = node.configured ? 'connection.configured' : 'connection.demo';
    const tooltip = new vscode.MarkdownString();
    tooltip.appendMarkdown('**').appendText(source.name).appendMarkdown('**  \n').appendText(`id: ${source.id} · ${source.kind}`);
    if (!node.configured) tooltip.appendMarkdown('  \n').appendText('The embedded demo database, used while no connection is configured.');
    switch (state.status) {
      case 'loading':
        item.iconPath = new vscode.ThemeIcon('loading~spin');
        item.description = state.tables ? 'refreshing…' : node.configured ? 'loading…' : 'starting the demo database…';
        if (state.percent !== undefined) item.description += ` ${state.percent}%`;
        break;
      case 'error':
        item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
        item.description = 'error';
        tooltip.appendMarkdown('\n\n').appendText(state.error ?? 'Could not read the schema.');
        break;
      case 'loaded': {
        const count = state.tables?.length ?? 0;
        item.iconPath = new vscode.ThemeIcon(KIND_ICONS[source.kind]);
        item.description = `connected · ${count} ${CONTENT_NOUNS[source.kind][count === 1 ? 0 : 1]}`;
        break;
      }
      default:
        item.iconPath = new vscode.ThemeIcon(KIND_ICONS[source.kind]);
        item.description = node.configured ? undefined : 'demo';
    }
    item.tooltip = tooltip;
    return item;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

function tableNodes(parentId: string, sourceKind: SourceKind, snapshot: SchemaSnapshot): TableNode[] {
  return [...snapshot.tables].sort((a, b) => a.qualifiedName.localeCompare(b.qualifiedName)).map((table) => ({ type: 'table', parentId, sourceKind, table }));
}

function tableIcon(sourceKind: SourceKind, table: TableInfo): string {
  if (table.kind === 'view') return 'eye';
  if (table.kind === 'table') return 'table';
  return sourceKind === 'slack' ? 'symbol-number' : 'symbol-namespace'; // a channel's "#", a collection
}

function tableItem({ parentId, sourceKind, table }: TableNode): vscode.TreeItem {
  const item = new vscode.TreeItem(table.qualifiedName, vscode.TreeItemCollapsibleState.Collapsed);
  item.id = `${parentId}/${table.qualifiedName}`;
  item.contextValue = table.kind === 'view' ? 'schemaView' : 'schemaTable';
  item.iconPath = new vscode.ThemeIcon(tableIcon(sourceKind, table));
  item.description = rowEstimateText(table);
  item.tooltip = table.comment || undefined;
  return item;
}

function columnItem({ parentId, table, column }: ColumnNode): vscode.TreeItem {
  const item = new vscode.TreeItem(column.name, vscode.TreeItemCollapsibleState.None);
  item.id = `${parentId}/${table.qualifiedName}/${column.name}`;
  item.contextValue = 'schemaColumn';
  item.iconPath = new vscode.ThemeIcon(column.isPrimaryKey ? 'key' : column.references ? 'references' : 'symbol-field');
  item.description = columnDescription(column);
  item.tooltip = column.comment || undefined;
  return item;
}

function messageItem(node: MessageNode): vscode.TreeItem {
  const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
  item.id = node.id;
  item.iconPath = node.icon;
  item.tooltip = node.tooltip;
  return item;
}

function message(id: string, text: string, icon: string, tooltip?: string): MessageNode {
  return { type: 'message', id, text, icon: new vscode.ThemeIcon(icon), tooltip };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
