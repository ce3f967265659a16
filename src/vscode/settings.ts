/** Reads Ceneca's settings into the engine's terms. Secrets never live here (see secrets.ts). */
import * as vscode from 'vscode';
import { defaultEngineSettings, type EngineSettings } from '../core/pipeline/single';
import { parseConnections, replaceConnection, type ConnectionSetting } from './connectionSettings';

export type { ConnectionKind, ConnectionSecret, ConnectionSetting } from './connectionSettings';

export type ProviderSetting = 'auto' | 'vscode' | 'openai' | 'anthropic';
export type ModelContextSetting = 'schema' | 'schema+samples' | 'schema+samples+rows';

export interface CenecaSettings {
  connections: ConnectionSetting[];
  /** Entries of `ceneca.connections` skipped or partly ignored, and why (for the log). */
  connectionProblems: string[];
  llm: { provider: ProviderSetting; model: string; baseUrl: string };
  engine: EngineSettings;
  queryTimeoutMs: number;
  sessionTimeoutMs: number;
  /** The local API server (`Ceneca: Start Local API Server`). */
  server: { port: number; maxRunning: number };
}

export function readSettings(): CenecaSettings {
  const config = vscode.workspace.getConfiguration('ceneca');
  const modelContext = config.get<ModelContextSetting>('modelContext', 'schema+samples+rows');
  const costGuard = config.get<{ warnAbove?: number; refuseAbove?: number }>('costGuard', {});
  const { connections, problems } = parseConnections(config.get<unknown>('connections', []));
  return {
    connections,
    connectionProblems: problems,
    llm: {
      provider: config.get<ProviderSetting>('llm.provider', 'auto'),
      model: config.get<string>('llm.model', '').trim(),
      baseUrl: config.get<string>('llm.baseUrl', '').trim(),
    },
    engine: {
      ...defaultEngineSettings,
      maxRows: positive(config.get<number>('maxRows'), 10_000),
      analysis: config.get<boolean>('analysis.enabled', true),
      sampleValues: modelContext !== 'schema',
      analysisRows: modelContext === 'schema+samples+rows' ? Math.max(0, config.get<number>('analysis.rows', 50)) : 0,
      softCostLimit: positive(costGuard.warnAbove, defaultEngineSettings.softCostLimit),
      hardCostLimit: positive(costGuard.refuseAbove, defaultEngineSettings.hardCostLimit),
    },
    queryTimeoutMs: positive(config.get<number>('queryTimeoutSeconds'), 30) * 1000,
    sessionTimeoutMs: positive(config.get<number>('sessionTimeoutSeconds'), 300) * 1000,
    server: {
      port: portNumber(config.get<number>('server.port')),
      maxRunning: Math.floor(positive(config.get<number>('server.maxConcurrentSessions'), 4)),
    },
  };
}

/**
 * Adds a connection (`id` undefined), replaces the one with `id`, or removes it (`next` undefined), leaving every
 * other entry as the user wrote it.
 */
export async function saveConnection(id: string | undefined, next: ConnectionSetting | undefined): Promise<void> {
  const config = vscode.workspace.getConfiguration('ceneca');
  await config.update('connections', replaceConnection(config.get<unknown>('connections', []), id, next), vscode.ConfigurationTarget.Global);
}

/** 0 asks for a free port. */
function portNumber(value: number | undefined): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535 ? value : DEFAULT_SERVER_PORT;
}

const DEFAULT_SERVER_PORT = 8750;

function positive(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}
