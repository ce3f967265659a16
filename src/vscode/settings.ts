/** Reads Ceneca's settings into the engine's terms. Secrets never live here (see secrets.ts). */
import * as vscode from 'vscode';
import { defaultEngineSettings, type EngineSettings } from '../core/pipeline/single';

export type ProviderSetting = 'auto' | 'vscode' | 'openai' | 'anthropic';
export type ModelContextSetting = 'schema' | 'schema+samples' | 'schema+samples+rows';

/** A connection as stored in `ceneca.connections`: everything but its password. */
export interface ConnectionSetting {
  id: string;
  kind: 'postgres';
  name?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  ssl?: boolean;
}

export interface CenecaSettings {
  connections: ConnectionSetting[];
  llm: { provider: ProviderSetting; model: string; baseUrl: string };
  engine: EngineSettings;
  queryTimeoutMs: number;
  sessionTimeoutMs: number;
}

export function readSettings(): CenecaSettings {
  const config = vscode.workspace.getConfiguration('ceneca');
  const modelContext = config.get<ModelContextSetting>('modelContext', 'schema+samples+rows');
  const costGuard = config.get<{ warnAbove?: number; refuseAbove?: number }>('costGuard', {});
  return {
    connections: readConnections(config.get<unknown[]>('connections', [])),
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
  };
}

/** Keeps only well-formed entries; a malformed one is skipped rather than breaking every question. */
function readConnections(raw: unknown[]): ConnectionSetting[] {
  const valid: ConnectionSetting[] = [];
  for (const entry of raw) {
    if (!entry || typeof entry !== 'object') continue;
    const c = entry as Record<string, unknown>;
    if (typeof c.id !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(c.id) || c.kind !== 'postgres') continue;
    if (valid.some((v) => v.id === c.id)) continue; // ids name sources everywhere: the first one wins
    valid.push({
      id: c.id,
      kind: 'postgres',
      name: typeof c.name === 'string' ? c.name : undefined,
      host: typeof c.host === 'string' ? c.host : undefined,
      port: typeof c.port === 'number' ? c.port : undefined,
      database: typeof c.database === 'string' ? c.database : undefined,
      user: typeof c.user === 'string' ? c.user : undefined,
      ssl: c.ssl === true,
    });
  }
  return valid;
}

export async function writeConnections(connections: ConnectionSetting[]): Promise<void> {
  await vscode.workspace.getConfiguration('ceneca').update('connections', connections, vscode.ConfigurationTarget.Global);
}

function positive(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}
